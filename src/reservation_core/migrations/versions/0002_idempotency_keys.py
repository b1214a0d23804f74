"""Idempotency keys.

Revision ID: 0002_rc_idempotency_keys
Revises: 0001_rc_schedules
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reservation_core.adapters.sqlalchemy.tables import IdString, UtcDateTime

revision = "0002_rc_idempotency_keys"
down_revision = "0001_rc_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``rc_idempotency_keys``."""
    op.create_table(
        "rc_idempotency_keys",
        sa.Column("user_id", IdString(), nullable=False),
        sa.Column("key", IdString(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_rc_idempotency_keys"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mariadb_engine="InnoDB",
        mariadb_charset="utf8mb4",
    )
    op.create_index("ix_rc_idempotency_keys_created_at", "rc_idempotency_keys", ["created_at"])


def downgrade() -> None:
    """Drop ``rc_idempotency_keys``."""
    op.drop_table("rc_idempotency_keys")
