"""MariaDB/MySQL's booking as one script, its ``COMMIT`` included (private)."""

from __future__ import annotations

from sqlalchemy import bindparam, func, insert, literal_column, select

from reservation_core.adapters.sqlalchemy import _statements as sql
from reservation_core.adapters.sqlalchemy._driver_sql import DriverSQL
from reservation_core.adapters.sqlalchemy.tables import reservations

from ._session import READ_COMMITTED

# The booking as one script: the reservation is inserted only if the UPDATE before it took
# the seats (ROW_COUNT() is the previous statement's), its event from the row as stored.
INSERT_IF_TAKEN = insert(reservations).from_select(
    sql.RESERVATION_KEYS,
    select(
        *(bindparam(f"p_{key}") for key in ("id", "schedule_id", "user_id", "quantity")),
        bindparam("p_status"),
        bindparam("p_created_at"),
        bindparam("p_created_at"),
        bindparam("p_expires_at"),
    ).where(func.row_count() == literal_column("1")),
)
BOOK_AND_COMMIT = {
    isolated: DriverSQL(
        *([] if isolated else [READ_COMMITTED]),
        sql.TAKE_SEATS,
        INSERT_IF_TAKEN,
        sql.APPEND_TRANSITION_EVENT,
        "COMMIT",
    )
    for isolated in (True, False)
}
