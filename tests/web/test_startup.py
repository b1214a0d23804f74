"""Workers starting together on an empty database all come up, with one schema made.

``uvicorn --workers 4`` (or four Flask processes behind a process manager) start their
apps at the same moment; each creates the ``rc_`` tables it finds missing. Without a
lock, all but one failed (PostgreSQL: ``UniqueViolation`` on ``pg_type``; MariaDB: 1050
``Table 'rc_schedules' already exists``) and the server died at start.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import multiprocessing
import os
import traceback
from multiprocessing.synchronize import Barrier
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, inspect

from examples._common import DATABASE_URL_VARIABLE
from reservation_core.adapters.sqlalchemy import metadata
from reservation_core.migrations import schema_differences
from tests.databases import separate_database_url
from tests.web.servers import STARTED, uvicorn

PROCESSES = 4
SERVERS = ["postgresql", "mariadb"]


def empty_database(name: str) -> str:
    """A database of its own for these tests, without any ``rc_`` table."""
    url = separate_database_url(name, "startup")
    engine = create_engine(url)
    metadata.drop_all(engine)
    assert not set(metadata.tables) & set(inspect(engine).get_table_names())
    engine.dispose()
    return url


def start_example(app: str, url: str, barrier: Barrier, results: multiprocessing.Queue) -> None:
    """In a process of its own: start ``app`` on ``url`` once every process is ready."""
    try:
        if app == "flask":
            from examples.flask_app import create_app as create_flask_app

            os.environ[DATABASE_URL_VARIABLE] = url
            barrier.wait(timeout=120)
            create_flask_app()
        else:
            from examples.fastapi_app import create_app as create_fastapi_app

            fastapi_app = create_fastapi_app(url)

            async def start_and_stop() -> None:
                # What uvicorn does first in each worker: the app's lifespan startup.
                async with fastapi_app.router.lifespan_context(fastapi_app):
                    pass

            barrier.wait(timeout=120)
            asyncio.run(start_and_stop())
        results.put("started")
    except BaseException:  # noqa: BLE001 - reported to the test, whatever it is
        results.put(traceback.format_exc())


@pytest.mark.parametrize("app", ["fastapi", "flask"])
@pytest.mark.parametrize("server", SERVERS)
def test_processes_starting_together_on_an_empty_database_all_start(server: str, app: str) -> None:
    url = empty_database(server)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(target=start_example, args=(app, url, barrier, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["started"] * PROCESSES, "\n".join(outcomes)
    assert schema_differences(url) == []


def call(base_url: str, method: str, path: str, body: object = None) -> tuple[int, object]:
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=60)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json", "X-User-Id": "ann"}
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("server", SERVERS)
def test_uvicorn_workers_on_an_empty_database_all_start(server: str, tmp_path: Path) -> None:
    """The command a user runs: every worker starts, and the API answers."""
    url = empty_database(server)
    with uvicorn(url, tmp_path, workers=PROCESSES) as (base_url, running):
        running.wait_for(STARTED, count=PROCESSES)
        assert call(base_url, "POST", "/schedules", {"schedule_id": "s", "capacity": 2})[0] == 201
        assert call(base_url, "POST", "/schedules/s/reservations", {})[0] == 201
        assert call(base_url, "GET", "/schedules/s")[1] == {
            "id": "s",
            "capacity": 2,
            "reserved": 1,
            "pools": [],
            "waitlisted": 0,
            "remaining": 1,
        }
    assert "Traceback" not in running.output, running.output
    assert schema_differences(url) == []
