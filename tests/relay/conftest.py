"""Fixtures of the relay tests: a fresh outbox, and places of their own on the brokers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.databases import make_engine
from tests.relay.brokers import BROKERS, remove, shared_url


@pytest.fixture
def outbox_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new SQLite file: its outbox holds only the test's events."""
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def service(outbox_engine: Engine) -> ReservationService:
    return ReservationService(lambda: SqlAlchemyUnitOfWork(outbox_engine))


@dataclass(frozen=True)
class Place:
    """Where a test's messages go on a broker, as Relay arguments, and where to read them."""

    broker: str
    url: str
    options: dict[str, Any]
    where: str


def place(broker: str, url: str, tag: str) -> Place:
    if broker == "nats":
        stream = f"RC_TEST_{tag}".upper()
        return Place(
            broker,
            url,
            {"stream": stream, "topic": f"rc_test_{tag}.{{schedule_id}}.{{type}}"},
            stream,
        )
    name = f"rc-test-{tag}"
    if broker == "rabbitmq":
        return Place(broker, url, {"exchange": name, "queue": name}, name)
    return Place(broker, url, {"topic": name}, name)


def _shared_place(broker: str) -> Iterator[Place]:
    found = place(broker, shared_url(broker), uuid.uuid4().hex[:10])
    yield found
    remove(broker, found.url, found.where)


@pytest.fixture(params=BROKERS)
def shared(request: pytest.FixtureRequest) -> Iterator[Place]:
    """A place of the test's own on each of the machine's brokers, removed afterwards."""
    yield from _shared_place(request.param)


@pytest.fixture
def shared_rabbitmq() -> Iterator[Place]:
    """A place of the test's own on the machine's RabbitMQ, removed afterwards."""
    yield from _shared_place("rabbitmq")
