"""Where the test databases are: environment variables first, then testcontainers.

``RESERVATION_CORE_POSTGRESQL_URL`` and ``RESERVATION_CORE_MARIADB_URL`` name databases the
suites may wipe of ``rc_`` tables. When one is unset and a Docker daemon answers,
testcontainers starts the database for the session; otherwise its tests skip, unless
``RESERVATION_CORE_REQUIRE_BACKENDS`` (``all`` or a comma list) names it: then they fail.
"""

from __future__ import annotations

import atexit
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL, Engine, create_engine, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from reservation_core.adapters.sqlalchemy import async_url as library_async_url
from reservation_core.testing._blocking import run

URL_VARIABLES = {
    "postgresql": "RESERVATION_CORE_POSTGRESQL_URL",
    "mariadb": "RESERVATION_CORE_MARIADB_URL",
}
REQUIRE_VARIABLE = "RESERVATION_CORE_REQUIRE_BACKENDS"


def required(name: str) -> bool:
    wanted = {part.strip() for part in os.environ.get(REQUIRE_VARIABLE, "").split(",")}
    return "all" in wanted or name in wanted


def unavailable(name: str, reason: str) -> None:
    """Skip the test, or fail it when the backend is required."""
    if required(name):
        pytest.fail(f"{name} is required ({REQUIRE_VARIABLE}) but unavailable: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


def _docker_answers() -> bool:
    # docker.from_env() leaks its socket when no daemon listens: a ResourceWarning, which
    # filterwarnings=error turns into a failed test on any machine without Docker.
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001 - any failure means "no Docker here"
        return False
    return True


@functools.cache
def _container_url(name: str) -> str | None:
    if not _docker_answers():
        return None
    container: Any
    if name == "postgresql":
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16", driver="psycopg").start()
    else:
        from testcontainers.mysql import MySqlContainer

        container = MySqlContainer("mariadb:11", dialect="pymysql").start()
    atexit.register(container.stop)
    return str(container.get_connection_url())


def database_url(name: str) -> str:
    url = os.environ.get(URL_VARIABLES[name]) or _container_url(name)
    if url is None:
        unavailable(name, f"set {URL_VARIABLES[name]} or run a Docker daemon")
    assert url is not None
    return url


def async_url(url: URL) -> str:
    """``url``'s database through its asyncio driver (the library's default for it).

    An ``RESERVATION_CORE_<DATABASE>_ASYNC_DRIVER`` variable names another (``psycopg``).
    """
    name = "mariadb" if url.get_backend_name() == "mysql" else url.get_backend_name()
    driver = os.environ.get(f"RESERVATION_CORE_{name.upper()}_ASYNC_DRIVER") or None
    return library_async_url(url, driver=driver).render_as_string(hide_password=False)


def make_async_engine(url: str, **options: Any) -> Iterator[AsyncEngine]:
    """An ``AsyncEngine`` for the suites' shared event loop, disposed on that loop after."""
    options.setdefault("pool_size", 20)
    options.setdefault("max_overflow", 0)
    options.setdefault("pool_timeout", 120)
    # A queue pool on SQLite too: SQLAlchemy 2.0 gives aiosqlite file databases NullPool.
    options.setdefault("poolclass", AsyncAdaptedQueuePool)
    engine = create_async_engine(url, **options)

    async def check() -> None:
        async with engine.connect():
            pass

    try:
        run(check())
    except Exception as error:  # noqa: BLE001 - reported as unavailable below
        run(engine.dispose())
        name = engine.dialect.name
        unavailable("mariadb" if name == "mysql" else name, f"cannot connect to {url}: {error}")
    yield engine
    run(engine.dispose())


def make_engine(url: str, **options: Any) -> Engine:
    """An engine like a host's: a bounded pool that threads queue on."""
    options.setdefault("pool_size", 20)
    options.setdefault("max_overflow", 0)
    options.setdefault("pool_timeout", 120)
    engine = create_engine(url, **options)
    try:
        with engine.connect():
            pass
    except Exception as error:  # noqa: BLE001 - reported as unavailable below
        engine.dispose()
        unavailable(engine.dialect.name, f"cannot connect to {engine.url!r}: {error}")
    return engine


def separate_database_url(name: str, database: str) -> str:
    """The URL of a database beside the test database of ``name``, created if missing.

    For suites that need a schema of their own (migrations, the CLI's whole-database
    audit): the shared test database is wiped by other suites and sessions. Its name is
    the test database's followed by ``database`` (``test_rc_cli``), so that runs pointed at
    different test databases on one server never share one.
    """
    url = make_url(database_url(name))
    database = f"{url.database}_{database}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if name == "postgresql":
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}
            ).first()
            if exists is None:
                connection.execute(text(f"CREATE DATABASE {database}"))
        else:
            connection.execute(text(f"CREATE DATABASE IF NOT EXISTS {database}"))
    admin.dispose()
    return url.set(database=database).render_as_string(hide_password=False)


#: Every supported sync driver per server, as SQLAlchemy names them in a URL.
DRIVERS = {
    "postgresql": ["psycopg", "psycopg2", "pg8000"],
    "mariadb": ["pymysql", "mysqldb", "mysqlconnector", "mariadbconnector"],
}


def driver_url(name: str, driver: str) -> str:
    """The test database of ``name`` reached through ``driver`` instead of the URL's own."""
    url = make_url(database_url(name))
    backend = url.get_backend_name()
    return url.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)
