"""Every failure to reach a database is one line on stderr and exit status 2."""

from __future__ import annotations

import json
import sqlite3
import sys
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url

from reservation_core.cli import main
from reservation_core.cli._options import URL_VARIABLE
from tests.cli.conftest import PACKAGE_ROOT, run_cli, url_of
from tests.databases import database_url

COMMANDS = ["demo", "stress", "audit", "migrate"]


def _one_line_error(result_stderr: str, *fragments: str) -> None:
    assert "Traceback" not in result_stderr
    assert "secret" not in result_stderr
    lines = result_stderr.splitlines()
    assert len(lines) == 1, result_stderr
    assert lines[0].startswith("reservation-core: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_url_is_a_one_line_error(command: str) -> None:
    result = run_cli(command, "--url", "not a url")
    assert result.returncode == 2
    assert result.stdout == ""
    _one_line_error(result.stderr, "not a database URL", "postgresql+psycopg://")


@pytest.mark.parametrize("command", ["demo", "audit", "migrate"])
def test_an_unreachable_database_is_a_one_line_error(command: str) -> None:
    result = run_cli(command, "--url", "postgresql+psycopg://postgres@127.0.0.1:1/test")
    assert result.returncode == 2
    _one_line_error(result.stderr, "cannot connect to postgresql+psycopg://postgres@127.0.0.1:1")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mssql+pyodbc://user@host/db", "the driver for mssql+pyodbc is not installed"),
        ("postgresql+nosuchdriver://user@host/db", "unknown database or driver"),
        ("nosuchdatabase://user@host/db", "unknown database or driver"),
        ("mysql+mysqldb://user@nosuchhost.invalid/db", "cannot connect to mysql+mysqldb://"),
        ("sqlite://", "in-memory SQLite"),
        ("postgresql+psycopg://user:secret@host:notaport/db", "user:***@host:notaport"),
        ("mysql+pymysql://root@127.0.0.1/test?no_such_option=1", "unexpected keyword"),
    ],
)
def test_an_unusable_url_is_a_one_line_error(url: str, fragment: str) -> None:
    result = run_cli("audit", "--url", url)
    assert result.returncode == 2
    _one_line_error(result.stderr, fragment)


def test_a_database_without_the_schema_says_to_migrate(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    result = run_cli("audit", "--url", f"sqlite:///{empty}")
    assert result.returncode == 2
    _one_line_error(result.stderr, "lacks the reservation_core tables", "reservation-core migrate")


@pytest.mark.parametrize("command", ["audit", "demo", "stress"])
def test_a_missing_sqlite_file_is_not_created(command: str, tmp_path: Path) -> None:
    typo = tmp_path / "typo.db"
    result = run_cli(command, "--url", f"sqlite:///{typo}")
    assert result.returncode == 2
    _one_line_error(result.stderr, f"the SQLite file '{typo}' does not exist")
    assert not typo.exists()


PASSWORD = "Sup3r@Pw0rd"  # noqa: S105 - holds an "@", as generated passwords do


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (  # one slash: not a URL, but echoed
            f"postgresql+psycopg:/app:{PASSWORD}@127.0.0.1/db",
            "'postgresql+psycopg:/app:***@127.0.0.1/db'",
        ),
        (  # an unencoded "@" in the password
            f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/db",
            "cannot connect to postgresql+psycopg://app:***@127.0.0.1:1/db",
        ),
        (  # the password as a query parameter
            "postgresql+psycopg://app@127.0.0.1:1/db?password=Sup3rPw0rd",
            "cannot connect to postgresql+psycopg://app@127.0.0.1:1/db?password=***",
        ),
        (
            "mysql+pymysql://root@127.0.0.1:1/db?charset=utf8mb4&passwd=Sup3rPw0rd",
            "cannot connect to mysql+pymysql://root@127.0.0.1:1/db?charset=utf8mb4&passwd=***",
        ),
        (  # an "@" in a query parameter: SQLAlchemy misreads the URL; still nothing shown
            f"postgresql+psycopg://app@127.0.0.1:1/db?password={PASSWORD}",
            "cannot connect to",
        ),
        (  # no "@" at all: the parser would read the password as a port
            "postgresql+psycopg://app:Sup3rPw0rd/db",
            "'postgresql+psycopg://app:***/db'",
        ),
        (
            f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:notaport/db",
            "'postgresql+psycopg://app:***@127.0.0.1:notaport/db'",
        ),
    ],
)
def test_a_password_is_never_printed(url: str, shown: str) -> None:
    result = run_cli("audit", "--url", url)
    assert result.returncode == 2
    _one_line_error(result.stderr, shown)
    for fragment in ("Sup3r", "Pw0rd"):
        assert fragment not in result.stderr + result.stdout


def test_masking_hides_only_secrets() -> None:
    """A URL without a user keeps its port: "host:port" is no "user:password"."""
    result = run_cli("audit", "--url", "postgresql+psycopg://127.0.0.1:1234/db")
    _one_line_error(result.stderr, "cannot connect to postgresql+psycopg://127.0.0.1:1234/db")
    assert "***" not in result.stderr


def test_a_password_with_an_at_sign_is_kept_whole(cli_engine: Engine) -> None:
    """The server is reached at the host after the last "@", the password hidden whole."""
    url = cli_engine.url.set(password=PASSWORD).render_as_string(hide_password=False)
    raw = url.replace("%40", "@")  # as a person types it, unencoded
    result = run_cli("audit", "--url", raw)
    assert result.returncode in (0, 2), result.stderr
    output = result.stdout + result.stderr
    assert "Sup3r" not in output
    assert "Pw0rd" not in output
    if cli_engine.dialect.name != "sqlite":
        assert f"{cli_engine.url.username}:***@{cli_engine.url.host}" in output
        if result.returncode == 2:  # the server checks passwords: refused, not misparsed
            assert "cannot resolve" not in output
            assert "failed to resolve host" not in output


def test_the_url_can_come_from_the_environment(cli_engine: Engine) -> None:
    result = run_cli("audit", "--json", env={URL_VARIABLE: url_of(cli_engine)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["backend"] == cli_engine.dialect.name
    assert run_cli("audit").returncode == 2


def test_a_postgres_url_is_postgresql() -> None:
    """``postgres://``, as Heroku and libpq spell it, is PostgreSQL with psycopg."""
    url = make_url(database_url("postgresql")).render_as_string(hide_password=False)
    for scheme in ("postgres", "postgres+psycopg"):
        result = run_cli("audit", "--url", url.replace("postgresql+psycopg", scheme, 1))
        # The shared test database may lack the schema: reaching it is what counts.
        assert "postgresql+psycopg://" in result.stdout + result.stderr, result.stderr
        assert "unknown database or driver" not in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [
        ("psycopg", "postgresql+psycopg://postgres@127.0.0.1/test", "postgresql-binary"),
        ("pymysql", "mysql+pymysql://root@127.0.0.1/test", "mysql"),
    ],
)
def test_a_missing_driver_names_the_pip_extra(
    module: str,
    url: str,
    extra: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what "not installed" looks like
    assert main(["audit", "--url", url]) == 2
    _one_line_error(capsys.readouterr().err, f"pip install 'reservation-core[{extra}]'")


def test_migrate_without_alembic_names_the_pip_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "alembic", None)
    assert main(["migrate", "--url", f"sqlite:///{tmp_path / 'x.sqlite3'}"]) == 2
    _one_line_error(capsys.readouterr().err, "pip install 'reservation-core[migrations]'")


def test_bad_options_are_usage_errors() -> None:
    result = run_cli("demo", "--capacity", "-1")
    assert result.returncode == 2
    assert "--capacity: must be between 0 and" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_the_console_script() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("reservation-core ")
    pyproject = PACKAGE_ROOT.parent / "pyproject.toml"
    if pyproject.exists():  # a checkout, not an installed wheel
        scripts = tomllib.loads(pyproject.read_text())["project"]["scripts"]
        assert scripts == {"reservation-core": "reservation_core.cli:main"}
