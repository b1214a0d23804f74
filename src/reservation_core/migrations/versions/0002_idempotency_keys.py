"""Idempotency keys.

Revision ID: 0002_rc_idempotency_keys
Revises: 0001_rc_schedules
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002_rc_idempotency_keys"
down_revision = "0001_rc_schedules"
branch_labels = None
depends_on = None


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


def upgrade() -> None:
    """Create ``rc_idempotency_keys``."""
    op.create_table(
        "rc_idempotency_keys",
        sa.Column("user_id", _id_string(), nullable=False),
        sa.Column("key", _id_string(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_rc_idempotency_keys")),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mariadb_engine="InnoDB",
        mariadb_charset="utf8mb4",
    )
    op.create_index(
        op.f("ix_rc_idempotency_keys_created_at"), "rc_idempotency_keys", ["created_at"]
    )


def downgrade() -> None:
    """Drop ``rc_idempotency_keys``."""
    op.drop_table("rc_idempotency_keys")
