"""Waiting lists.

``rc_schedules.waitlisted`` (how many entries wait or hold an offer) and the table
``rc_waitlist_entries``. Online: the new column has a constant default, which PostgreSQL
(11 and later) and MariaDB (10.3 and later, ``ALGORITHM=INSTANT``) add without rewriting
the table; the new table is empty.

Revision ID: 0007_rc_waitlists
Revises: 0006_rc_orders_and_pools
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007_rc_waitlists"
down_revision = "0006_rc_orders_and_pools"
branch_labels = None
depends_on = None

_TABLE = "rc_waitlist_entries"
_MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
}
_ACTIVE_USER = "CASE WHEN status IN ('WAITING', 'OFFERED') THEN user_id END"
_STATUSES = "status IN ('WAITING', 'OFFERED', 'ACCEPTED', 'EXPIRED', 'LEFT')"


# Frozen here, as this revision first created them: a later change to the library's
# column types must not change what this revision does.
def _id_string() -> sa.types.TypeEngine[str]:
    """An identifier of up to 64 characters, compared exactly (binary, NO PAD on MariaDB)."""
    dialect = op.get_context().dialect
    if dialect.name not in ("mysql", "mariadb"):
        return sa.String(64)
    exact = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return mysql.VARCHAR(64, charset="utf8mb4", collation=exact)


def _instant() -> sa.types.TypeEngine[datetime]:
    """A UTC instant with microseconds (stored naive on MySQL and SQLite)."""
    if op.get_context().dialect.name in ("mysql", "mariadb"):
        return mysql.DATETIME(fsp=6)
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add waiting lists."""
    column = sa.Column("waitlisted", sa.Integer(), server_default="0", nullable=False)
    if op.get_context().dialect.name in ("mysql", "mariadb"):
        rendered = sa.schema.CreateColumn(column).compile(dialect=op.get_context().dialect)
        op.execute(f"ALTER TABLE rc_schedules ADD COLUMN {rendered}, ALGORITHM=INSTANT")
    else:
        op.add_column("rc_schedules", column)
    op.create_table(
        _TABLE,
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("schedule_id", _id_string(), nullable=False),
        sa.Column("user_id", _id_string(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("offer_for_us", sa.BigInteger(), nullable=False),
        sa.Column("reservation_id", sa.String(36), nullable=True),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.Column("active_user_id", _id_string(), sa.Computed(_ACTIVE_USER, persisted=True)),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_rc_waitlist_entries_quantity")),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_rc_waitlist_entries_status")),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["rc_schedules.id"],
            name=op.f("fk_rc_waitlist_entries_schedule_id_rc_schedules"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_rc_waitlist_entries")),
        **_MYSQL,
    )
    op.create_index("uq_rc_waitlist_entries_id", _TABLE, ["id"], unique=True)
    op.create_index(
        "uq_rc_waitlist_entries_active_user", _TABLE, ["schedule_id", "active_user_id"], unique=True
    )
    op.create_index(
        op.f("ix_rc_waitlist_entries_schedule_id_status_seq"),
        _TABLE,
        ["schedule_id", "status", "seq"],
    )
    op.create_index(op.f("ix_rc_waitlist_entries_reservation_id"), _TABLE, ["reservation_id"])


def downgrade() -> None:
    """Remove waiting lists; refused while an entry waits or holds an offer."""
    if op.get_context().as_sql is False:
        waiting = op.get_bind().execute(
            sa.text(f"SELECT COUNT(*) FROM {_TABLE} WHERE status IN ('WAITING', 'OFFERED')")  # noqa: S608 - constants
        )
        if waiting.scalar_one():
            raise RuntimeError(
                f"{_TABLE} has WAITING or OFFERED entries, which the previous revision "
                "cannot keep: let them leave first"
            )
    op.drop_table(_TABLE)
    op.drop_column("rc_schedules", "waitlisted")
