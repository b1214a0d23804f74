"""How a database's ``rc_`` tables differ from ``metadata`` (private; needs Alembic)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, ForeignKeyConstraint, inspect

from reservation_core.adapters.sqlalchemy import metadata


def _ours(name: str | None, type_: str, parent_names: Any) -> bool:
    return type_ != "table" or name in metadata.tables


#: Alembic's operation -> what it means for the database, in a user's words: ``add_*``
#: says the database lacks what this version has; ``remove_*``, that it has something more.
_KINDS = {
    "table": "table",
    "column": "column",
    "index": "index",
    "constraint": "unique constraint",
    "fk": "foreign key",
}


def _where(parts: list[Any]) -> str:
    """``table.name`` of what an operation is about (a table alone for a table)."""
    *_, subject = parts
    table = getattr(subject, "table", None)
    if len(parts) == 3:  # (schema, table name, column)
        return f"{parts[1]}.{subject.name}"
    if table is not None and table is not subject:
        return f"{table.name}.{subject.name}"
    return str(subject.name)


def _column_change(operation: str, parts: list[Any]) -> str | None:
    """A column that differs: ``(schema, table, column, options, in database, expected)``."""
    _, table, column, _, found, expected = parts
    where = f"column {table}.{column}"
    if operation == "modify_type":
        return f"{where} is {found}, expected {expected}"
    if operation == "modify_nullable":
        nulls = {True: "nullable", False: "NOT NULL"}
        return f"{where} is {nulls[bool(found)]}, expected {nulls[bool(expected)]}"
    if operation == "modify_default":
        return f"{where} defaults to {found}, expected {expected}"
    return None


def _describe(difference: Any) -> str:
    """One difference as a user says it.

    ``missing index: rc_events.ix_…``, not Alembic's ``add_index: ix_…`` (what it would do).
    """
    if isinstance(difference, list):  # one column's changes
        return "; ".join(_describe(part) for part in difference)
    operation, *parts = difference
    action, _, kind = operation.partition("_")
    if action in ("add", "remove") and kind in _KINDS:
        missing = "missing" if action == "add" else "unexpected"
        return f"{missing} {_KINDS[kind]}: {_where(parts)}"
    if operation.startswith("modify_") and len(parts) == 6:
        described = _column_change(operation, parts)
        if described is not None:
            return described
    names = [getattr(part, "name", part) for part in parts]
    shown = [str(name) for name in names if name is not None and not isinstance(name, dict)]
    return f"{operation.replace('_', ' ')}: {', '.join(shown)}"


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
