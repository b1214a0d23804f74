"""Holds: ``expires_at``, the HELD and EXPIRED statuses, one active reservation per user.

The duplicate guard's generated column becomes ``active_user_id`` (the user id while the
reservation is HELD or CONFIRMED); indexes for keyset pages and for the expiry sweep.
No database changes a generated column's expression in place everywhere (PostgreSQL
before 17 cannot; SQLite cannot add a stored generated column at all), so the column is
dropped and added again, and on SQLite the table is rebuilt and its rows copied.

Revision ID: 0005_rc_holds
Revises: 0004_rc_events
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005_rc_holds"
down_revision = "0004_rc_events"
branch_labels = None
depends_on = None

_TABLE = "rc_reservations"
_OLD_GUARD = ("confirmed_user_id", "CASE WHEN status = 'CONFIRMED' THEN user_id END")
_NEW_GUARD = ("active_user_id", "CASE WHEN status IN ('HELD', 'CONFIRMED') THEN user_id END")
_OLD_STATUSES = "status IN ('CONFIRMED', 'CANCELLED', 'REFUNDED')"
_NEW_STATUSES = "status IN ('HELD', 'CONFIRMED', 'CANCELLED', 'REFUNDED', 'EXPIRED')"
_COPIED = "id, schedule_id, user_id, quantity, status, created_at, updated_at"
_NEW_INDEXES = {
    "ix_rc_reservations_schedule_id_created_at_id": ["schedule_id", "created_at", "id"],
    "ix_rc_reservations_user_id_created_at_id": ["user_id", "created_at", "id"],
    "ix_rc_reservations_status_expires_at_schedule_id": ["status", "expires_at", "schedule_id"],
}
_MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
}


# Frozen here, as this revision first created them: a later change to the library's
# column types must not change what this revision does.
def IdString() -> sa.types.TypeEngine[str]:  # noqa: N802 - reads as the type it freezes
    """An identifier of up to 64 characters, compared exactly (binary, NO PAD on MariaDB)."""
    dialect = op.get_context().dialect
    if dialect.name not in ("mysql", "mariadb"):
        return sa.String(64)
    exact = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return mysql.VARCHAR(64, charset="utf8mb4", collation=exact)


def UtcDateTime() -> sa.types.TypeEngine[datetime]:  # noqa: N802 - reads as the type it freezes
    """A UTC instant with microseconds (stored naive on MySQL and SQLite)."""
    if op.get_context().dialect.name in ("mysql", "mariadb"):
        return mysql.DATETIME(fsp=6)
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add holds to ``rc_reservations``, keeping every row."""
    if op.get_context().dialect.name == "sqlite":
        _rebuild_on_sqlite(guard=_NEW_GUARD, statuses=_NEW_STATUSES, with_expiry=True)
    else:
        _alter(guard_from=_OLD_GUARD, guard_to=_NEW_GUARD, statuses=_NEW_STATUSES)
        op.add_column(_TABLE, sa.Column("expires_at", UtcDateTime(), nullable=True))
    for name, columns in _NEW_INDEXES.items():
        op.create_index(op.f(name), _TABLE, columns)


def downgrade() -> None:
    """Remove holds; refused while any reservation is HELD or EXPIRED (they would be lost)."""
    if op.get_context().as_sql is False:
        held = op.get_bind().execute(
            sa.text(f"SELECT COUNT(*) FROM {_TABLE} WHERE status IN ('HELD', 'EXPIRED')")  # noqa: S608 - constants
        )
        if held.scalar_one():
            raise RuntimeError(
                "rc_reservations has HELD or EXPIRED reservations, which the previous "
                "revision cannot store: confirm, cancel or delete them first"
            )
    for name in _NEW_INDEXES:
        op.drop_index(op.f(name), _TABLE)
    if op.get_context().dialect.name == "sqlite":
        _rebuild_on_sqlite(guard=_OLD_GUARD, statuses=_OLD_STATUSES, with_expiry=False)
    else:
        op.drop_column(_TABLE, "expires_at")
        _alter(guard_from=_NEW_GUARD, guard_to=_OLD_GUARD, statuses=_OLD_STATUSES)


def _alter(guard_from: tuple[str, str], guard_to: tuple[str, str], statuses: str) -> None:
    """PostgreSQL, MariaDB/MySQL: swap the guard column and the status check in place."""
    op.drop_index(op.f(_guard_index(guard_from)), _TABLE)
    op.drop_column(_TABLE, guard_from[0])
    op.drop_constraint(op.f("ck_rc_reservations_status"), _TABLE, type_="check")
    op.create_check_constraint(op.f("ck_rc_reservations_status"), _TABLE, statuses)
    op.add_column(
        _TABLE, sa.Column(guard_to[0], IdString(), sa.Computed(guard_to[1], persisted=True))
    )
    op.create_index(op.f(_guard_index(guard_to)), _TABLE, ["schedule_id", guard_to[0]], unique=True)


def _rebuild_on_sqlite(guard: tuple[str, str], statuses: str, *, with_expiry: bool) -> None:
    """SQLite: a new table with the new columns, the rows copied over, then renamed."""
    building = f"_{_TABLE}_rebuild"
    expiry: list[sa.Column[Any]] = (
        [sa.Column("expires_at", UtcDateTime(), nullable=True)] if with_expiry else []
    )
    op.create_table(
        building,
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("schedule_id", IdString(), nullable=False),
        sa.Column("user_id", IdString(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        *expiry,
        sa.Column(guard[0], IdString(), sa.Computed(guard[1], persisted=True)),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_rc_reservations_quantity")),
        sa.CheckConstraint(statuses, name=op.f("ck_rc_reservations_status")),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["rc_schedules.id"],
            name=op.f("fk_rc_reservations_schedule_id_rc_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rc_reservations")),
        **_MYSQL,
    )
    op.execute(f"INSERT INTO {building} ({_COPIED}) SELECT {_COPIED} FROM {_TABLE}")  # noqa: S608
    op.drop_table(_TABLE)
    op.rename_table(building, _TABLE)
    op.create_index(
        op.f("ix_rc_reservations_schedule_id_status"), _TABLE, ["schedule_id", "status"]
    )
    op.create_index(op.f(_guard_index(guard)), _TABLE, ["schedule_id", guard[0]], unique=True)


def _guard_index(guard: tuple[str, str]) -> str:
    return f"uq_rc_reservations_{guard[0].removesuffix('_id')}"
