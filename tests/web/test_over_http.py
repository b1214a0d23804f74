"""Each example app behind a real HTTP server: header bytes and body sizes as sent on the wire.

Test clients hand headers over as text; a server gets bytes and decodes them as
ISO-8859-1 (PEP 3333, ASGI). These tests send raw bytes with ``http.client``.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine

from examples._common import MAX_BODY_BYTES
from reservation_core import Reservation, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork
from tests.web.servers import serve_asgi, serve_wsgi


@dataclass(frozen=True)
class Served:
    """An app on a real server, and how to read a reservation from its database."""

    address: tuple[str, int]
    stored: Callable[[str], Reservation]

    def send(
        self, method: str, path: str, headers: dict[str, str | bytes], body: bytes = b""
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection(*self.address, timeout=60)
        try:
            connection.putrequest(method, path)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                connection.putheader(name, value)  # bytes go on the wire as they are
            connection.endheaders(body or None)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()


def _sql_reader(engine: Engine) -> Callable[[str], Reservation]:
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    return service.get_reservation


@pytest.fixture(
    params=[
        "fastapi",
        "flask",
        # Committed data, seen by the server's threads as by the test's.
        pytest.param("django", marks=pytest.mark.django_db(transaction=True)),
    ]
)
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    if request.param == "django":
        from examples.django_app import create_app as create_django_app
        from reservation_core.contrib.django import get_service

        # Its server threads open connections to the test database, as a WSGI server's do.
        with serve_wsgi(create_django_app()) as address:
            yield Served(address, lambda rid: get_service().get_reservation(rid))
        return
    engine: Engine = request.getfixturevalue("sqlite_engine")
    if request.param == "fastapi":
        from examples.fastapi_app import create_app as create_fastapi_app

        app = create_fastapi_app(engine.url.render_as_string(hide_password=False))
        with serve_asgi(app) as address:
            yield Served(address, _sql_reader(engine))
    else:
        from examples.flask_app import create_app as create_flask_app

        with serve_wsgi(create_flask_app(engine)) as address:
            yield Served(address, _sql_reader(engine))


JSON = {"Content-Type": "application/json"}


def schedule(served: Served, new_id: Callable[[str], str]) -> str:
    schedule_id = new_id("sched")
    body = json.dumps({"schedule_id": schedule_id, "capacity": 5}).encode()
    assert served.send("POST", "/schedules", JSON, body)[0] == 201
    return schedule_id


@pytest.mark.parametrize("user", ["été", "用户", "🎟️-fan"])
def test_a_utf8_user_header_is_the_user_as_sent(
    served: Served, new_id: Callable[[str], str], user: str
) -> None:
    """Sent as UTF-8 bytes (``curl -H 'X-User-Id: été'``), stored as ``été``, not ``Ã©tÃ©``."""
    path = f"/schedules/{schedule(served, new_id)}/reservations"
    as_user = {**JSON, "X-User-Id": user.encode()}
    status, booked = served.send("POST", path, as_user, b"{}")
    assert (status, booked["user_id"]) == (201, user)
    assert served.stored(booked["id"]).user_id == user
    status, read = served.send("GET", f"/reservations/{booked['id']}", as_user)
    assert (status, read) == (200, booked)
    # The same user in ISO-8859-1 bytes is not that user: those bytes are not UTF-8.
    latin = {**JSON, "X-User-Id": user.encode("latin-1", "replace")}
    if latin["X-User-Id"] != user.encode():
        assert served.send("GET", f"/reservations/{booked['id']}", latin)[0] in (404, 422)


def test_a_utf8_idempotency_key_replays(served: Served, new_id: Callable[[str], str]) -> None:
    path = f"/schedules/{schedule(served, new_id)}/reservations"
    user = new_id("ann").encode()
    headers = {**JSON, "X-User-Id": user, "Idempotency-Key": "clé-1".encode()}
    first = served.send("POST", path, headers, b"{}")
    again = served.send("POST", path, headers, b"{}")
    assert first[0] == again[0] == 201
    assert again[1] == first[1]


def test_header_bytes_that_are_not_utf8_are_422_naming_the_header(
    served: Served, new_id: Callable[[str], str]
) -> None:
    path = f"/schedules/{schedule(served, new_id)}/reservations"
    status, body = served.send("POST", path, {**JSON, "X-User-Id": b"\xe9t\xe9"}, b"{}")
    assert (status, body) == (
        422,
        {
            "code": "VALIDATION_ERROR",
            "message": "X-User-Id: must be UTF-8 text",
            "details": {
                "field": "X-User-Id",
                "reason": "must be UTF-8 text",
                "value": "\\xe9t\\xe9",
            },
        },
    )


def test_a_megabyte_is_refused_before_it_is_sent(served: Served) -> None:
    """413 on ``Content-Length`` alone: the server answers without waiting for the body."""
    headers = {**JSON, "Content-Length": str(1024 * 1024)}
    connection = http.client.HTTPConnection(*served.address, timeout=60)
    try:
        connection.putrequest("POST", "/schedules")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()  # the headers, and not one byte of the body
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert (status, body["details"]) == (
        413,
        {"field": "body", "reason": f"must be at most {MAX_BODY_BYTES} bytes"},
    )
