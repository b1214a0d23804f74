"""100 simultaneous HTTP requests for 10 seats against a real uvicorn server.

The FastAPI example is ``async def`` on AsyncReservationService: the requests are tasks
on uvicorn's event loop, through the asyncio driver (asyncpg, or aiosqlite).
"""

from __future__ import annotations

import functools
import http.client
import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from examples.fastapi_app import create_app
from tests.backends import sql_backend
from tests.concurrency.race import race
from tests.databases import URL_VARIABLES
from tests.web.servers import serve_asgi


@pytest.fixture
def race_engine(request: pytest.FixtureRequest) -> Engine:
    """PostgreSQL when its URL is set (bounded pool: 20 connections), else a SQLite file."""
    name = "postgresql" if os.environ.get(URL_VARIABLES["postgresql"]) else "sqlite"
    engine: Engine = request.getfixturevalue(f"{name}_engine")
    return engine


@pytest.fixture
def server_address(race_engine: Engine) -> Iterator[tuple[str, int]]:
    """The example app served by uvicorn in a thread, on a free port of 127.0.0.1."""
    with serve_asgi(create_app(race_engine.url.render_as_string(hide_password=False))) as address:
        yield address


def call(
    address: tuple[str, int], method: str, path: str, body: Any = None, user: str = "admin"
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(*address, timeout=120)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json", "X-User-Id": user}
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_hundred_requests_for_ten_seats(
    server_address: tuple[str, int], race_engine: Engine
) -> None:
    schedule_id = f"http-race-{os.urandom(8).hex()}"
    schedule = {"schedule_id": schedule_id, "capacity": 10}
    assert call(server_address, "POST", "/schedules", schedule)[0] == 201
    path = f"/schedules/{schedule_id}/reservations"
    results = race(
        [functools.partial(call, server_address, "POST", path, {}, f"user-{i}") for i in range(100)]
    )

    assert Counter(status for status, _ in results) == {201: 10, 400: 90}
    assert {body["code"] for status, body in results if status == 400} == {"CAPACITY_EXCEEDED"}
    assert call(server_address, "GET", f"/schedules/{schedule_id}") == (
        200,
        {
            "id": schedule_id,
            "capacity": 10,
            "reserved": 10,
            "pools": [],
            "waitlisted": 0,
            "remaining": 0,
        },
    )
    tally = sql_backend(race_engine.dialect.name, race_engine).tally(schedule_id)
    assert tally.consistent
    assert tally.confirmed_count == 10
