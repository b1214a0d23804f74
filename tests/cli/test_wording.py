"""What the commands say, in a user's words: the variable a URL may come from, why a URL
does not parse, counts in agreement with their nouns, and a schema's differences."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from reservation_core import ReservationService, migrations
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.cli.conftest import empty_database, run_cli, url_of


def _error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    (line,) = stderr.splitlines()
    assert line.startswith("reservation-core: error: ")
    return line


@pytest.mark.parametrize(
    "command", [["audit"], ["migrate"], ["migrate", "--sql"], ["events", "--consumer", "tail"]]
)
def test_without_a_url_the_error_names_the_variable_too(command: list[str]) -> None:
    result = run_cli(*command)
    assert result.returncode == 2
    assert "--url URL or set RESERVATION_CORE_URL" in _error_line(result.stderr)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (  # "@" then ":" in the password: the parser takes the rest for a host and port
            "postgresql+psycopg://app:s3cret@pa:ss@db/app",
            "the password holds '@': percent-encode it as %40",
        ),
        ("postgresql+psycopg://app@db:54x2/app", "the port is not a number"),
        (  # no "@HOST": what follows ":" may be the password, never shown
            "postgresql+psycopg://app:s3cret/app",
            "what follows ':' is no port number (a password goes in USER:PASSWORD@HOST)",
        ),
        ("postgresql+psycopg://app@[::1/app", "the IPv6 address lacks its closing ']'"),
        ("postgresql+psycopg:/app@db/app", "'://' must follow the database and driver names"),
        (
            "postgresql-psycopg://app@db/app",
            "the scheme 'postgresql-psycopg' may hold only letters, digits, '_' and '+'",
        ),
    ],
)
def test_a_url_that_does_not_parse_is_refused_with_the_reason(url: str, reason: str) -> None:
    result = run_cli("audit", "--url", url)
    assert result.returncode == 2
    line = _error_line(result.stderr)
    assert "not a database URL" in line
    assert reason in line
    assert "s3cret" not in line


def test_a_count_of_one_takes_the_singular(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    engine = create_engine(url)
    migrations.upgrade(engine)
    ReservationService(lambda: SqlAlchemyUnitOfWork(engine)).create_schedule("yoga", 1)
    engine.dispose()
    audited = run_cli("audit", "--url", url)
    assert audited.returncode == 0, audited.stderr
    assert f"audit of {url}: 1 schedule checked\n" in audited.stdout

    stressed = run_cli("stress", "--schedules", "1", "--threads", "1", "--seconds", "0.2")
    assert stressed.returncode == 0, stressed.stdout + stressed.stderr
    assert re.search(r"^1 schedule of 20 seats, 1 thread, ", stressed.stdout, re.M)
    assert "audit: 1 schedule checked, 0 drifted" in stressed.stdout

    demo = run_cli("demo", "--requests", "1", "--capacity", "1")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "capacity 1, 1 concurrent request, pool of 10 connections" in demo.stdout


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_adopt_lists_differences_as_what_is_missing_or_unexpected(
    name: str, tmp_path: Path
) -> None:
    """Not Alembic's ``add_index: ix_…`` (what it would do), but what the database lacks."""
    engine = empty_database(name, "rc_cli_migrate", tmp_path)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_rc_events_occurred_at"))
            connection.execute(text("ALTER TABLE rc_schedules ADD COLUMN note VARCHAR(20)"))
        result = run_cli("migrate", "--url", url_of(engine), "--adopt")
        assert result.returncode == 2
        line = _error_line(result.stderr)
        assert "missing index: rc_events.ix_rc_events_occurred_at" in line
        assert "unexpected column: rc_schedules.note" in line
        assert not re.search(r"\b(add|remove)_\w+:", line), line
    finally:
        engine.dispose()
