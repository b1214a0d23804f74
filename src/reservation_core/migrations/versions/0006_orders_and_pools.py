"""Orders and shared capacity pools.

``rc_schedules.pool_count`` and the table ``rc_schedule_pools`` (the pools each schedule
counts against); ``rc_reservations.order_id`` and ``order_line`` (an order's lines, in
order) with an index on ``order_id``.

Online on tables that hold millions of rows while bookings continue: the new columns are
nullable or have a constant default, which PostgreSQL (11 and later) and MariaDB (10.3 and
later, ``ALGORITHM=INSTANT``) add without rewriting the table; the index is built
``CONCURRENTLY`` on PostgreSQL (outside a transaction) and ``ALGORITHM=INPLACE, LOCK=NONE``
on MariaDB/MySQL, so writes go on while it builds. SQLite has one writer anyway.

Revision ID: 0006_rc_orders_and_pools
Revises: 0005_rc_holds
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006_rc_orders_and_pools"
down_revision = "0005_rc_holds"
branch_labels = None
depends_on = None

_INDEX = "ix_rc_reservations_order_id"
_MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
}


# Frozen here, as this revision first created it: a later change to the library's column
# types must not change what this revision does.
def _id_string() -> sa.types.TypeEngine[str]:
    """An identifier of up to 64 characters, compared exactly (binary, NO PAD on MariaDB)."""
    dialect = op.get_context().dialect
    if dialect.name not in ("mysql", "mariadb"):
        return sa.String(64)
    exact = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return mysql.VARCHAR(64, charset="utf8mb4", collation=exact)


def _is_mysql() -> bool:
    return op.get_context().dialect.name in ("mysql", "mariadb")


def _add_columns(table: str, columns: list[sa.Column[Any]]) -> None:
    """Add columns without a table rewrite (MariaDB/MySQL refuse if they would need one)."""
    if not _is_mysql():
        for column in columns:
            op.add_column(table, column)
        return
    context = op.get_context()
    added = ", ".join(
        f"ADD COLUMN {sa.schema.CreateColumn(column).compile(dialect=context.dialect)}"
        for column in columns
    )
    op.execute(f"ALTER TABLE {table} {added}, ALGORITHM=INSTANT")


def upgrade() -> None:
    """Add pools and orders, keeping every row."""
    _add_columns(
        "rc_schedules",
        [sa.Column("pool_count", sa.SmallInteger(), server_default="0", nullable=False)],
    )
    op.create_table(
        "rc_schedule_pools",
        sa.Column("schedule_id", _id_string(), nullable=False),
        sa.Column("pool_id", _id_string(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["rc_schedules.id"],
            name=op.f("fk_rc_schedule_pools_schedule_id_rc_schedules"),
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["rc_schedules.id"], name=op.f("fk_rc_schedule_pools_pool_id_rc_schedules")
        ),
        sa.PrimaryKeyConstraint("schedule_id", "pool_id", name=op.f("pk_rc_schedule_pools")),
        **_MYSQL,
    )
    op.create_index(op.f("ix_rc_schedule_pools_pool_id"), "rc_schedule_pools", ["pool_id"])
    _add_columns(
        "rc_reservations",
        [
            sa.Column("order_id", sa.String(36), nullable=True),
            sa.Column("order_line", sa.SmallInteger(), nullable=True),
        ],
    )
    _create_order_index()


def _create_order_index() -> None:
    context = op.get_context()
    name = context.dialect.name
    if _is_mysql():
        op.execute(
            f"ALTER TABLE rc_reservations ADD INDEX {_INDEX} (order_id), "
            "ALGORITHM=INPLACE, LOCK=NONE"
        )
    elif name == "postgresql":
        # CONCURRENTLY cannot run in a transaction: this block commits what came before.
        with context.autocommit_block():
            op.create_index(
                _INDEX,
                "rc_reservations",
                ["order_id"],
                postgresql_where=sa.text("order_id IS NOT NULL"),
                postgresql_concurrently=True,
            )
    else:
        op.create_index(
            _INDEX, "rc_reservations", ["order_id"], sqlite_where=sa.text("order_id IS NOT NULL")
        )


def downgrade() -> None:
    """Remove orders and pools; refused while a schedule has pools (their counts would lie)."""
    if op.get_context().as_sql is False:
        pooled = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM rc_schedule_pools"))
        if pooled.scalar_one():
            raise RuntimeError(
                "rc_schedule_pools is not empty: the previous revision has no pools, and "
                "the pools' seat counts would no longer be kept; remove the pools first"
            )
    op.drop_index(_INDEX, "rc_reservations")
    # Plain DROP COLUMN (SQLite has it since 3.35): a batch copy would rebuild the table
    # and its generated column, which SQLite's ALTER cannot add back.
    op.drop_column("rc_reservations", "order_line")
    op.drop_column("rc_reservations", "order_id")
    op.drop_table("rc_schedule_pools")
    op.drop_column("rc_schedules", "pool_count")
