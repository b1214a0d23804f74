"""The example project as its reader runs it: ``manage.py migrate``, ``runserver``, HTTP.

On a SQLite file by default, and on PostgreSQL or MariaDB by
``RESERVATION_CORE_EXAMPLE_DATABASE_URL`` (a database of its own beside the test database).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.databases import database_url, separate_database_url

ROOT = Path(__file__).resolve().parents[2]


def example_url(name: str, folder: Path) -> str:
    if name == "sqlite":
        return f"sqlite:///{folder / 'example.sqlite3'}"
    database_url(name)  # unavailable: skipped, or failed when required
    return separate_database_url(name, "django_example")


def manage(*args: str, env: dict[str, str], cwd: Path, **options: Any) -> Any:
    return subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "examples.django_app.manage", *args],
        env=env,
        cwd=cwd,
        **options,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # pytest-django's, not the reader's
    env["PYTHONPATH"] = str(ROOT)
    env["RESERVATION_CORE_EXAMPLE_DATABASE_URL"] = example_url(request.param, tmp_path)
    migrated = manage(
        "migrate", "--no-input", env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    output, _ = migrated.communicate(timeout=300)
    assert migrated.returncode == 0, output
    port = free_port()
    process = manage(
        "runserver",
        "--noreload",
        f"127.0.0.1:{port}",
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # until the server listens; nothing else to wait for
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "runserver exited"
                assert time.monotonic() < deadline, "runserver did not listen"
                time.sleep(0.1)
        yield ("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait(timeout=30)


def call(
    address: tuple[str, int], method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, str, Any]:
    connection = http.client.HTTPConnection(*address, timeout=60)
    try:
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, payload, {"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        media_type = response.headers["Content-Type"].split(";")[0]
        return response.status, media_type, json.loads(response.read())
    finally:
        connection.close()


def test_migrate_then_book_over_http(server: tuple[str, int]) -> None:
    schedule_id = f"example-{os.urandom(6).hex()}"
    status, _, schedule = call(
        server, "POST", "/schedules", {"schedule_id": schedule_id, "capacity": 1}
    )
    assert (status, schedule["remaining"]) == (201, 1)
    path = f"/schedules/{schedule_id}/reservations"
    alice = {"X-User-Id": "alice"}
    status, _, booking = call(server, "POST", path, {}, **alice)
    assert (status, booking["status"]) == (201, "CONFIRMED")
    assert call(server, "GET", f"/reservations/{booking['id']}", **alice)[2] == booking
    assert call(server, "GET", f"/reservations/{booking['id']}", **{"X-User-Id": "bob"})[0] == 404
    refused = call(
        server, "POST", path, {}, Accept="application/problem+json", **{"X-User-Id": "bob"}
    )
    assert refused[:2] == (400, "application/problem+json")
    assert refused[2]["code"] == "CAPACITY_EXCEEDED"
    cancelled = call(server, "POST", f"/reservations/{booking['id']}/cancel", **alice)
    assert cancelled[2]["status"] == "CANCELLED"
    assert call(server, "GET", f"/schedules/{schedule_id}")[2]["remaining"] == 1
