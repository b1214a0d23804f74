"""How a database's ``rc_`` tables differ from ``metadata`` (private; needs Alembic)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, ForeignKeyConstraint, inspect

from reservation_core.adapters.sqlalchemy import metadata


def _ours(name: str | None, type_: str, parent_names: Any) -> bool:
    return type_ != "table" or name in metadata.tables


def _describe(difference: Any) -> str:
    if isinstance(difference, list):  # one column's changes
        return "; ".join(_describe(part) for part in difference)
    operation, *parts = difference
    names = [getattr(part, "name", part) for part in parts]
    shown = [str(name) for name in names if name is not None and not isinstance(name, dict)]
    return f"{operation}: {', '.join(shown)}"


def _constraint_names(connection: Connection) -> list[str]:
    """Check, foreign key and primary key names, which Alembic's comparison leaves out."""
    inspector = inspect(connection)
    existing = set(inspector.get_table_names())
    found: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue  # already reported as a missing table
        kinds = {
            "check constraint": (
                {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)},
                {str(c["name"]) for c in inspector.get_check_constraints(table.name)},
            ),
            "foreign key": (
                {str(c.name) for c in table.constraints if isinstance(c, ForeignKeyConstraint)},
                {str(c["name"]) for c in inspector.get_foreign_keys(table.name)},
            ),
        }
        primary = inspector.get_pk_constraint(table.name).get("name")
        if primary is not None:  # MySQL and MariaDB call every primary key PRIMARY
            kinds["primary key"] = ({str(table.primary_key.name)}, {primary})
        for kind, (expected, actual) in kinds.items():
            found += [f"missing {kind}: {table.name}.{n}" for n in sorted(expected - actual)]
            found += [f"unexpected {kind}: {table.name}.{n}" for n in sorted(actual - expected)]
    return found


def schema_differences(connection: Connection) -> list[str]:
    """Every difference between the database's ``rc_`` tables and ``metadata``.

    Alembic's autogenerate comparison (tables, columns, types, nullability, indexes,
    unique constraints), plus the names of check, foreign key and primary key constraints.
    """
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": _ours}
    )
    found = [_describe(difference) for difference in compare_metadata(context, metadata)]
    return found + _constraint_names(connection)
