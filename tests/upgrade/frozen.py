"""The database as reservation_core 0.1 left it, frozen, and the way to upgrade it.

``schema_0_1/<dialect>.sql`` holds the tables and indexes that revisions
``0001_rc_schedules`` and ``0002_rc_idempotency_keys`` (the head of 0.1) create, as Alembic
renders them for that database; ``schema_0_1/data.sql`` the version stamp and rows written
the way 0.1 wrote them. Both are frozen: a release never changes what an old revision did
(a schema change is a new revision), and the upgrade test proves that a 0.1 database,
data and all, migrates to head and keeps its contract.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Inspector, inspect, text

from reservation_core import migrations
from reservation_core.adapters.sqlalchemy import metadata

HERE = Path(__file__).with_name("schema_0_1")
#: The head revision of reservation_core 0.1.
HEAD_0_1 = "0002_rc_idempotency_keys"


def dialect_of(engine: Engine) -> str:
    """The frozen schema's file name for ``engine``'s database."""
    return "mariadb" if engine.dialect.name in ("mysql", "mariadb") else engine.dialect.name


def statements(script: str) -> list[str]:
    """The statements of an SQL script, each ending with ``;`` at the end of a line."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    parts = re.split(r";[ \t]*$", "\n".join(lines), flags=re.MULTILINE)
    return [part.strip() for part in parts if part.strip()]


def frozen_ddl(dialect: str) -> list[str]:
    """The statements of ``schema_0_1/<dialect>.sql``."""
    return statements((HERE / f"{dialect}.sql").read_text(encoding="utf-8"))


def describe(engine: Engine) -> dict[str, dict[str, Any]]:
    """The ``rc_`` tables as the database reports them: columns, keys, indexes, checks.

    Reflected, not rendered: two ways of building a schema compare equal when the database
    holds the same thing, whatever SQL text each SQLAlchemy version writes for it.
    """
    inspector = inspect(engine)
    dialect = engine.dialect
    tables = sorted(
        name
        for name in inspector.get_table_names()
        if name.startswith("rc_") and name != migrations.VERSION_TABLE
    )
    return {
        table: {
            "columns": [
                (
                    column["name"],
                    str(column["type"].compile(dialect=dialect)),
                    column["nullable"],
                    column.get("default"),
                    str(column.get("computed", {}).get("sqltext", "")),
                )
                for column in inspector.get_columns(table)
            ],
            "primary key": inspector.get_pk_constraint(table),
            "foreign keys": inspector.get_foreign_keys(table),
            "indexes": sorted(inspector.get_indexes(table), key=lambda index: str(index["name"])),
            "checks": sorted(
                inspector.get_check_constraints(table), key=lambda check: str(check["name"])
            ),
            "options": _table_options(inspector, table),
        }
        for table in tables
    }


def _table_options(inspector: Inspector, table: str) -> dict[str, Any]:
    try:
        return inspector.get_table_options(table)
    except NotImplementedError:  # SQLAlchemy 2.0 reads table options on MySQL/MariaDB only
        return {}


def drop_everything(engine: Engine) -> None:
    """Drop the ``rc_`` tables and the version table, whatever revision they are at."""
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {migrations.VERSION_TABLE}"))


def load_0_1(engine: Engine, *, data: bool = True) -> None:
    """Make ``engine``'s database what 0.1 left: its schema at 0.1's head, with data."""
    drop_everything(engine)
    script = frozen_ddl(dialect_of(engine))
    if data:
        script += statements((HERE / "data.sql").read_text(encoding="utf-8"))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # The data's timestamps are UTC, written without an offset.
            connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        for statement in script:
            connection.exec_driver_sql(statement)


def upgraded_from_0_1(engine: Engine) -> Engine:
    """``engine``, its database loaded as 0.1 left it and then migrated to head."""
    load_0_1(engine)
    migrations.upgrade(engine)
    return engine
