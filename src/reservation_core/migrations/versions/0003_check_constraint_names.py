"""Check constraints named as ``metadata.create_all`` names them, on databases built before.

Revision 0001 names the check constraints as 0.1 built them, their prefix doubled by the
naming convention: ``ck_rc_schedules_ck_rc_schedules_capacity`` where ``create_all`` makes
``ck_rc_schedules_capacity`` (a host's own convention may have given another prefix).
This renames every check constraint whose name ends with the expected name. In ``--sql``
(offline) mode, which cannot look, it renders the renames of the names revision 0001
gives. SQLite cannot alter a constraint, so there the table is rebuilt (online only). The
downgrade keeps the names: they are correct at every revision.

Revision ID: 0003_rc_check_names
Revises: 0002_rc_idempotency_keys
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_rc_check_names"
down_revision = "0002_rc_idempotency_keys"
branch_labels = None
depends_on = None

#: Each table's check constraints: the expected name and the condition.
_CHECKS = {
    "rc_schedules": {
        "ck_rc_schedules_capacity": "capacity >= 0",
        "ck_rc_schedules_reserved": "reserved >= 0 AND reserved <= capacity",
    },
    "rc_reservations": {
        "ck_rc_reservations_quantity": "quantity >= 1",
        "ck_rc_reservations_status": "status IN ('CONFIRMED', 'CANCELLED', 'REFUNDED')",
    },
}
_CONFIRMED_USER = "CASE WHEN status = 'CONFIRMED' THEN user_id END"


def _renames(table: str) -> dict[str, str]:
    """The check constraints of ``table`` to rename: ``{found name: expected name}``."""
    found = {c["name"] for c in sa.inspect(op.get_bind()).get_check_constraints(table)}
    return {
        name: expected
        for expected in _CHECKS[table]
        for name in found
        if name and name != expected and name.endswith(expected)
    }


def _doubled(table: str) -> dict[str, str]:
    """The names revision 0001 gives: ``{ck_T_ck_T_x: ck_T_x}``."""
    return {f"ck_{table}_{expected}": expected for expected in _CHECKS[table]}


def upgrade() -> None:
    """Rename the check constraints to their ``create_all`` names."""
    offline = op.get_context().as_sql  # --sql: nothing to inspect
    if offline and op.get_context().dialect.name == "sqlite":
        return  # a table rebuild needs the live table
    for table in _CHECKS:
        renames = _doubled(table) if offline else _renames(table)
        if not renames:
            continue
        if op.get_context().dialect.name == "sqlite":
            _rebuild_on_sqlite(table, renames)
            continue
        for name, expected in renames.items():  # PostgreSQL, MariaDB, MySQL: in place
            op.drop_constraint(op.f(name), table, type_="check")
            op.create_check_constraint(op.f(expected), table, _CHECKS[table][expected])


def _rebuild_on_sqlite(table: str, renames: dict[str, str]) -> None:
    with op.batch_alter_table(table, recreate="always") as batch:
        for name, expected in renames.items():
            batch.drop_constraint(op.f(name), type_="check")
            batch.create_check_constraint(op.f(expected), _CHECKS[table][expected])
        if table == "rc_reservations":
            # SQLite cannot copy into a generated column: it is dropped and made anew.
            batch.drop_index(op.f("uq_rc_reservations_confirmed_user"))
            batch.drop_column("confirmed_user_id")
            computed = sa.Computed(_CONFIRMED_USER, persisted=True)
            batch.add_column(sa.Column("confirmed_user_id", sa.String(64), computed))
            batch.create_index(
                op.f("uq_rc_reservations_confirmed_user"),
                ["schedule_id", "confirmed_user_id"],
                unique=True,
            )


def downgrade() -> None:
    """Nothing: the names are the ones every revision expects."""
