"""Fixtures shared by every suite: the backend matrix and unique ids."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from reservation_core.adapters.sqlalchemy import metadata, recommended_engine_options
from tests.backends import (
    Backend,
    async_memory_backend,
    async_sql_backend,
    joined_backend,
    memory_backend,
    sql_backend,
)
from tests.databases import URL_VARIABLES, async_url, database_url, make_async_engine, make_engine
from tests.upgrade.frozen import upgraded_from_0_1

BACKEND_NAMES = ["memory", "sqlite", "postgresql", "mariadb"]
#: The same backends served by AsyncReservationService, through the asyncio drivers.
ASYNC_NAMES = [f"async-{name}" for name in BACKEND_NAMES]
#: ``0.1``: build each database as reservation_core 0.1 left it, data and all, then
#: migrate it to head, instead of creating the tables from ``metadata``.
UPGRADED_SCHEMA_VARIABLE = "RESERVATION_CORE_TEST_SCHEMA"


def _fresh_schema(engine: Engine) -> Engine:
    if os.environ.get(UPGRADED_SCHEMA_VARIABLE) == "0.1":
        return upgraded_from_0_1(engine)  # the release check: the suites on upgraded databases
    metadata.drop_all(engine)
    metadata.create_all(engine)
    return engine


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "reservations.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    yield _fresh_schema(engine)
    engine.dispose()


#: ``1``: the database servers' engines are made as the docs recommend for an engine of the
#: library's own, ``recommended_engine_options(url, dedicated=True)`` (on MariaDB through
#: PyMySQL the one-script bookings and groups), instead of as a host's shared engine.
DEDICATED_VARIABLE = "RESERVATION_CORE_TEST_DEDICATED_ENGINES"


def _server_engine(name: str) -> Engine:
    url = database_url(name)
    if os.environ.get(DEDICATED_VARIABLE) == "1":
        return make_engine(url, **recommended_engine_options(url, dedicated=True))
    return make_engine(url)


@pytest.fixture(scope="session")
def postgresql_engine() -> Iterator[Engine]:
    engine = _server_engine("postgresql")
    yield _fresh_schema(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def mariadb_engine() -> Iterator[Engine]:
    engine = _server_engine("mariadb")
    yield _fresh_schema(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def async_sqlite_engine(sqlite_engine: Engine) -> Iterator[AsyncEngine]:
    """The SQLite test database again, through aiosqlite."""
    yield from make_async_engine(async_url(sqlite_engine.url))


@pytest.fixture(scope="session")
def async_postgresql_engine(postgresql_engine: Engine) -> Iterator[AsyncEngine]:
    """The PostgreSQL test database again, through asyncpg (or the async URL's driver)."""
    yield from make_async_engine(async_url(postgresql_engine.url))


@pytest.fixture(scope="session")
def async_mariadb_engine(mariadb_engine: Engine) -> Iterator[AsyncEngine]:
    """The MariaDB test database again, through aiomysql."""
    yield from make_async_engine(async_url(mariadb_engine.url))


def make_backend(request: pytest.FixtureRequest, name: str) -> Backend:
    """The backend called ``name``: ``memory``, a database, or ``joined-`` and a database.

    Or ``async-`` and one of those first two: the same, served by the async service.
    """
    if name == "memory":
        return memory_backend()
    if name == "async-memory":
        return async_memory_backend()
    if name.startswith("async-"):
        database = name.removeprefix("async-")
        return async_sql_backend(
            database,
            request.getfixturevalue(f"{database}_engine"),
            request.getfixturevalue(f"async_{database}_engine"),
        )
    if name.startswith("joined-"):
        database = name.removeprefix("joined-")
        return joined_backend(database, request.getfixturevalue(f"{database}_engine"))
    return sql_backend(name, request.getfixturevalue(f"{name}_engine"))


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn; every test using it runs once per backend."""
    return make_backend(request, request.param)


@pytest.fixture
def new_id() -> Callable[[str], str]:
    """Fresh ids, so tests never collide on a shared database."""
    return lambda prefix="id": f"{prefix}-{uuid.uuid4().hex[:16]}"


def pytest_report_header() -> list[str]:
    """Which database and driver each server backend runs on, in every run's header."""
    lines = []
    for name, variable in URL_VARIABLES.items():
        url = os.environ.get(variable)
        shown = make_url(url).render_as_string(hide_password=True) if url else "unset"
        lines.append(f"reservation_core {name}: {shown}")
    return lines


def _scale_out_wanted() -> bool:
    variables = ("RESERVATION_CORE_GALERA_URLS", "RESERVATION_CORE_PGBOUNCER_URL")
    required = {
        p.strip() for p in os.environ.get("RESERVATION_CORE_REQUIRE_BACKENDS", "").split(",")
    }
    return any(os.environ.get(v) for v in variables) or bool({"galera", "pgbouncer"} & required)


def _failover_wanted() -> bool:
    return bool(os.environ.get("RESERVATION_CORE_REQUIRE_FAILOVER")) or any(
        name.startswith("RESERVATION_CORE_FAILOVER_") and value
        for name, value in os.environ.items()
    )


# The scale-out and failover suites need clusters of their own (scripts/, `nox -s scaleout`
# and `nox -s failover`, CI steps of their own): without them they are not collected,
# rather than collected and skipped.
collect_ignore = [
    *([] if _scale_out_wanted() else ["scaleout"]),
    *([] if _failover_wanted() else ["failover"]),
]
