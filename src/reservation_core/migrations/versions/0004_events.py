"""Events of reservation changes, and their consumers' deliveries.

Revision ID: 0004_rc_events
Revises: 0003_rc_check_names
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004_rc_events"
down_revision = "0003_rc_check_names"
branch_labels = None
depends_on = None

_MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
}


# Frozen here, as this revision first created them: a later change to the library's
# column types must not change what this revision does.
def _id_string() -> sa.types.TypeEngine[str]:
    """An identifier of up to 64 characters, compared exactly (binary, NO PAD on MariaDB)."""
    dialect = op.get_context().dialect
    if dialect.name not in ("mysql", "mariadb"):
        return sa.String(64)
    exact = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return mysql.VARCHAR(64, charset="utf8mb4", collation=exact)


def _utc_datetime() -> sa.types.TypeEngine[datetime]:
    """A UTC instant with microseconds (stored naive on MySQL and SQLite)."""
    if op.get_context().dialect.name in ("mysql", "mariadb"):
        return mysql.DATETIME(fsp=6)
    return sa.DateTime(timezone=True)


def _event_id() -> sa.types.TypeEngine[int]:
    """64 bits; on SQLite an INTEGER, the only type an auto-incremented rowid key takes."""
    return sa.Integer() if op.get_context().dialect.name == "sqlite" else sa.BigInteger()


def upgrade() -> None:
    """Create ``rc_events``, ``rc_event_consumers`` and ``rc_event_deliveries``."""
    op.create_table(
        "rc_events",
        sa.Column("id", _event_id(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("schedule_id", _id_string(), nullable=False),
        sa.Column("user_id", _id_string(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("occurred_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rc_events")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_rc_events_occurred_at"), "rc_events", ["occurred_at"])
    op.create_index(op.f("ix_rc_events_reservation_id"), "rc_events", ["reservation_id"])
    op.create_table(
        "rc_event_consumers",
        sa.Column("consumer", _id_string(), nullable=False),
        sa.Column("claimed_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_rc_event_consumers")),
        **_MYSQL,
    )
    op.create_table(
        "rc_event_deliveries",
        sa.Column("consumer", _id_string(), nullable=False),
        sa.Column("event_id", _event_id(), nullable=False),
        sa.Column("claimed_at", _utc_datetime(), nullable=False),
        sa.Column("acked_at", _utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_rc_event_deliveries")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_rc_event_deliveries_event_id"), "rc_event_deliveries", ["event_id"])


def downgrade() -> None:
    """Drop the event tables."""
    op.drop_table("rc_event_deliveries")
    op.drop_table("rc_event_consumers")
    op.drop_table("rc_events")
