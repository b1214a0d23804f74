"""Schedules and reservations, with the one-confirmed-reservation-per-user guard.

Revision ID: 0001_rc_schedules
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from reservation_core.adapters.sqlalchemy.tables import IdString, UtcDateTime

revision = "0001_rc_schedules"
down_revision = None
branch_labels = ("reservation_core",)
depends_on = None

_MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
}


def upgrade() -> None:
    """Create ``rc_schedules`` and ``rc_reservations``."""
    op.create_table(
        "rc_schedules",
        sa.Column("id", IdString(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("capacity >= 0", name="ck_rc_schedules_capacity"),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= capacity", name="ck_rc_schedules_reserved"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rc_schedules"),
        **_MYSQL,
    )
    op.create_table(
        "rc_reservations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("schedule_id", IdString(), nullable=False),
        sa.Column("user_id", IdString(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column(
            "confirmed_user_id",
            IdString(),
            sa.Computed("CASE WHEN status = 'CONFIRMED' THEN user_id END", persisted=True),
        ),
        sa.CheckConstraint("quantity >= 1", name="ck_rc_reservations_quantity"),
        sa.CheckConstraint(
            "status IN ('CONFIRMED', 'CANCELLED', 'REFUNDED')", name="ck_rc_reservations_status"
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["rc_schedules.id"],
            name="fk_rc_reservations_schedule_id_rc_schedules",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rc_reservations"),
        **_MYSQL,
    )
    op.create_index(
        "ix_rc_reservations_schedule_id_status", "rc_reservations", ["schedule_id", "status"]
    )
    op.create_index(
        "uq_rc_reservations_confirmed_user",
        "rc_reservations",
        ["schedule_id", "confirmed_user_id"],
        unique=True,
    )


def downgrade() -> None:
    """Drop ``rc_reservations`` and ``rc_schedules``."""
    op.drop_table("rc_reservations")
    op.drop_table("rc_schedules")
