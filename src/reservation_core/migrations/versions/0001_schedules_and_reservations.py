"""Schedules and reservations, with the one-confirmed-reservation-per-user guard.

Every name is final (``op.f``): no naming convention of the running environment (this
package's or a host's ``target_metadata``) may change it. The check constraints keep the
names 0.1 gave them, their prefix doubled (``ck_rc_schedules_ck_rc_schedules_capacity``):
a released revision never changes what it builds (tests/upgrade holds what 0.1 built), so
revision 0003 renames them, on every database.

Revision ID: 0001_rc_schedules
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

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
    """Create ``rc_schedules`` and ``rc_reservations``."""
    op.create_table(
        "rc_schedules",
        sa.Column("id", _id_string(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_rc_schedules_ck_rc_schedules_capacity")),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= capacity",
            name=op.f("ck_rc_schedules_ck_rc_schedules_reserved"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rc_schedules")),
        **_MYSQL,
    )
    op.create_table(
        "rc_reservations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("schedule_id", _id_string(), nullable=False),
        sa.Column("user_id", _id_string(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.Column(
            "confirmed_user_id",
            _id_string(),
            sa.Computed("CASE WHEN status = 'CONFIRMED' THEN user_id END", persisted=True),
        ),
        sa.CheckConstraint(
            "quantity >= 1", name=op.f("ck_rc_reservations_ck_rc_reservations_quantity")
        ),
        sa.CheckConstraint(
            "status IN ('CONFIRMED', 'CANCELLED', 'REFUNDED')",
            name=op.f("ck_rc_reservations_ck_rc_reservations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["rc_schedules.id"],
            name=op.f("fk_rc_reservations_schedule_id_rc_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rc_reservations")),
        **_MYSQL,
    )
    op.create_index(
        op.f("ix_rc_reservations_schedule_id_status"),
        "rc_reservations",
        ["schedule_id", "status"],
    )
    op.create_index(
        op.f("uq_rc_reservations_confirmed_user"),
        "rc_reservations",
        ["schedule_id", "confirmed_user_id"],
        unique=True,
    )


def downgrade() -> None:
    """Drop ``rc_reservations`` and ``rc_schedules``."""
    op.drop_table("rc_reservations")
    op.drop_table("rc_schedules")
