"""The CLI run as users run it: ``python -m reservation_core`` in a subprocess.

Each backend gets a database of its own (``rc_cli``; a temporary file on SQLite), built
with the shipped migrations: ``audit`` checks every schedule, so it cannot share the
``test`` database that other suites and sessions fill and wipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

import reservation_core
from reservation_core import ReservationService, migrations
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from reservation_core.cli._options import URL_VARIABLE
from tests.databases import make_engine, separate_database_url

#: The ``src`` folder (or site-packages) the tests import the package from.
PACKAGE_ROOT = Path(reservation_core.__file__).resolve().parents[1]
BACKENDS = ["sqlite", "postgresql", "mariadb"]


def run_cli(*args: str, timeout: float = 120, **options: Any) -> subprocess.CompletedProcess[str]:
    """Run ``python -m reservation_core ARGS`` with the package under test importable.

    Output is captured unless ``options`` (for :func:`subprocess.run`) say otherwise.
    """
    options.setdefault("stdout", subprocess.PIPE)
    options.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "reservation_core", *args],
        text=True,
        env=cli_environment(options.pop("env", {})),
        timeout=timeout,
        check=False,
        **options,
    )


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m reservation_core ARGS``, its stdout and stderr piped, line-buffered."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "reservation_core", *args],
        text=True,
        bufsize=1,
        env=cli_environment(env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def cli_environment(extra: dict[str, str]) -> dict[str, str]:
    """The environment a command runs in: the package under test importable, no own URL."""
    path = [str(PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    env.pop(URL_VARIABLE, None)  # a developer's own database is never the tests'
    env.update(extra)
    return env


def empty_database(name: str, database: str, folder: Path) -> Engine:
    """An engine on a database without ``rc_`` tables."""
    if name == "sqlite":
        return make_engine(f"sqlite:///{folder / f'{database}.sqlite3'}")
    engine = make_engine(separate_database_url(name, database))
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {migrations.VERSION_TABLE}"))
    return engine


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=BACKENDS)
def cli_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine on the CLI tests' own database of each backend, schema migrated."""
    engine = empty_database(request.param, "rc_cli", tmp_path_factory.mktemp("cli"))
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def service(cli_engine: Engine) -> ReservationService:
    return ReservationService(lambda: SqlAlchemyUnitOfWork(cli_engine))


@pytest.fixture
def plant(cli_engine: Engine) -> Iterator[Callable[[str, str], None]]:
    """Run raw SQL behind the library's back; the schedules named are deleted afterwards."""
    planted: list[str] = []

    def run(schedule_id: str, sql: str) -> None:
        planted.append(schedule_id)
        with cli_engine.begin() as connection:
            connection.execute(text(sql), {"id": schedule_id})

    yield run
    with cli_engine.begin() as connection:
        for schedule_id in planted:
            for table in ("rc_reservations WHERE schedule_id", "rc_schedules WHERE id"):
                connection.execute(text(f"DELETE FROM {table} = :id"), {"id": schedule_id})
