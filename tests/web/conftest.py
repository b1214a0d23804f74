"""Each example app behind its framework's own test client, on one small interface."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import Engine

APPS = ["fastapi", "flask", "django"]


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    media_type: str
    body: Any
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class WebClient:
    """``post``/``get`` against one example app; the body is sent as raw bytes."""

    name: str
    send: Callable[[str, str, bytes | None, dict[str, str]], Answer]

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        user: str | None = None,
        **headers: str,
    ) -> Answer:
        """POST as ``user`` (the ``X-User-Id`` header), or anonymously."""
        data = raw if raw is not None else json.dumps({} if body is None else body).encode()
        headers = {"Content-Type": "application/json", **_as(user), **headers}
        return self.send("POST", path, data, headers)

    def get(self, path: str, *, user: str | None = None, **headers: str) -> Answer:
        return self.send("GET", path, None, {**_as(user), **headers})

    def request(self, method: str, path: str, **headers: str) -> Answer:
        """Any other method, without a body."""
        return self.send(method, path, None, headers)


def _as(user: str | None) -> dict[str, str]:
    return {} if user is None else {"X-User-Id": user}


def _media_type(content_type: str) -> str:
    return content_type.split(";", maxsplit=1)[0].strip()


def _fastapi(engine: Engine) -> Iterator[WebClient]:
    from fastapi.testclient import TestClient

    from examples.fastapi_app import create_app

    with TestClient(create_app(engine.url.render_as_string(hide_password=False))) as client:

        def send(method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Answer:
            response = client.request(method, path, content=data, headers=headers)
            media_type = _media_type(response.headers["content-type"])
            return Answer(response.status_code, media_type, response.json(), response.headers)

        yield WebClient("fastapi", send)


def _flask(engine: Engine) -> Iterator[WebClient]:
    from examples.flask_app import create_app

    client = create_app(engine).test_client()

    def send(method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Answer:
        response = client.open(path, method=method, data=data, headers=headers)
        body = json.loads(response.data)
        return Answer(response.status_code, response.mimetype, body, response.headers)

    yield WebClient("flask", send)


def _django() -> Iterator[WebClient]:
    """The Django example on Django's own test database (SQLite ``default``), per test."""
    from django.test import Client

    from examples.django_app import create_app

    create_app()
    client = Client()

    def send(method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Answer:
        content_type = headers.pop("Content-Type", "application/octet-stream")
        response = client.generic(method, path, data or b"", content_type, headers=headers)
        media_type = _media_type(response.headers["Content-Type"])
        return Answer(
            response.status_code, media_type, json.loads(response.content), response.headers
        )

    yield WebClient("django", send)


@pytest.fixture(
    # pytest-django sets the test database up for the Django example's tests.
    params=[
        pytest.param(app, marks=[pytest.mark.django_db] if app == "django" else []) for app in APPS
    ]
)
def web(request: pytest.FixtureRequest) -> Iterator[WebClient]:
    """Each example app in turn: on the session's SQLite file, Django on its own database."""
    if request.param == "django":
        yield from _django()
        return
    sqlite_engine: Engine = request.getfixturevalue("sqlite_engine")
    yield from {"fastapi": _fastapi, "flask": _flask}[request.param](sqlite_engine)
