"""The README's Compatibility tables state what this run tests, no more, no less."""

from __future__ import annotations

import re
import sqlite3
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url

from tests.databases import URL_VARIABLES, database_url

ROOT = Path(__file__).parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("[start:compatibility]")[1].split("[end:compatibility]")[0]


def _rows() -> dict[str, list[str]]:
    """Each table row by its first cell: ``{"Python": ["3.11, 3.12, 3.13", ...]}``."""
    rows: dict[str, list[str]] = {}
    for line in _section().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and not set(cells[0]) <= {"-"}:
            rows.setdefault(cells[0], cells[1:])
    return rows


def test_the_pythons_are_the_ones_the_metadata_promises() -> None:
    tested, requirement = _rows()["Python"]
    prefix = "Programming Language :: Python :: "
    promised = {c.removeprefix(prefix) for c in PROJECT["classifiers"] if c.startswith(prefix)}
    assert set(re.findall(r"3\.\d+", tested)) == {v for v in promised if re.fullmatch(r"3\.\d+", v)}
    assert requirement.replace(" ", "") == f"`requires-python{PROJECT['requires-python']}`"


def test_sqlalchemy_is_the_dependency_and_its_floor() -> None:
    tested, requirement = _rows()["SQLAlchemy"]
    (dependency,) = [d for d in PROJECT["dependencies"] if d.lower().startswith("sqlalchemy")]
    assert requirement == f"`{dependency}`"
    floor = re.search(r">=([\d.]+)", dependency)
    assert floor is not None
    assert tested.startswith(f"{floor.group(1)} (the floor)")


def test_sqlite_is_the_version_this_python_links() -> None:
    tested, _ = _rows()["SQLite"]
    major_minor = ".".join(sqlite3.sqlite_version.split(".")[:2])
    assert major_minor in re.findall(r"\d+\.\d+", tested), sqlite3.sqlite_version


@pytest.mark.parametrize(
    ("row", "fixture"), [("PostgreSQL", "postgresql_engine"), ("MariaDB", "mariadb_engine")]
)
def test_the_database_servers_are_the_versions_listed(
    row: str, fixture: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(fixture)
    version = engine.dialect.server_version_info
    assert version is not None
    if row == "MariaDB":
        assert getattr(engine.dialect, "is_mariadb", False), "the MariaDB tests ran on MySQL"
        running = f"{version[0]}.{version[1]}"
    else:
        running = str(version[0])
    tested = _rows()[row][0]
    assert running in re.findall(r"\d+(?:\.\d+)?", tested), f"{row} {version} is not listed"


def _listed_drivers() -> list[str]:
    return re.findall(r"`([a-z0-9+]+)://", _section())


def test_every_listed_driver_is_installed_for_the_tests() -> None:
    drivers = _listed_drivers()
    assert {"sqlite", "postgresql+psycopg", "mysql+pymysql"} <= set(drivers)
    for driver in drivers:
        make_url(f"{driver}://").get_dialect().import_dbapi()


@pytest.mark.parametrize("name", list(URL_VARIABLES))
def test_the_databases_are_reached_through_a_listed_driver(name: str) -> None:
    assert make_url(database_url(name)).drivername in _listed_drivers()
