"""Every failure to reach a database is one line on stderr and exit status 2."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from reservation_core.cli import main
from tests.cli.conftest import PACKAGE_ROOT, run_cli

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
    result = run_cli("audit", "--url", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert result.returncode == 2
    _one_line_error(result.stderr, "lacks the reservation_core tables", "reservation-core migrate")


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [
        ("psycopg", "postgresql+psycopg://postgres@127.0.0.1/test", "postgresql"),
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
