"""PostgreSQL's own statements: data-modifying CTEs that book in one round trip (private).

Built from the portable statements (``.._statements``) where they can be, so the columns
and parameters are the same; only PostgreSQL runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, String, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import TextClause

from reservation_core.adapters.sqlalchemy._statements import (
    EVENT_KEYS,
    RESERVATION_KEYS,
    TAKE_SEATS,
    TRANSITION,
)
from reservation_core.adapters.sqlalchemy.tables import events, reservations, schedules
from reservation_core.domain import Reservation, event_type

_S, _R, _E = schedules.c, reservations.c, events.c


def _transition_with_event() -> Insert:
    """The compare-and-set and its event in one statement (PostgreSQL).

    The UPDATE runs in a data-modifying CTE whose RETURNING row feeds the event's INSERT:
    its rowcount (1 or 0) says whether the status moved.
    """
    moved = TRANSITION.returning(
        _R.id, _R.schedule_id, _R.user_id, _R.quantity, _R.status, _R.updated_at
    ).cte("moved")
    rows = select(
        bindparam("p_type", type_=_E.type.type),
        moved.c.id,
        moved.c.schedule_id,
        moved.c.user_id,
        moved.c.quantity,
        moved.c.status,
        moved.c.updated_at,
    )
    return insert(events).from_select(EVENT_KEYS, rows).execution_options(preserve_rowcount=True)


TRANSITION_WITH_EVENT = _transition_with_event()


def _book_in_one_statement() -> Insert:
    """Take the seats, insert the reservation and its event in one statement (PostgreSQL).

    The UPDATE runs in a data-modifying CTE whose RETURNING row feeds the reservation's
    INSERT, whose RETURNING row feeds the event's: one round trip while the schedule row is
    locked. The final INSERT's rowcount says whether seats were taken.
    """
    taken = TAKE_SEATS.returning(_S.id).cte("taken")
    rows = select(
        bindparam("p_id", type_=_R.id.type),
        taken.c.id,
        bindparam("p_user_id", type_=_R.user_id.type),
        bindparam("p_quantity", type_=_R.quantity.type),
        bindparam("p_status", type_=_R.status.type),
        bindparam("p_created_at", type_=_R.created_at.type),
        bindparam("p_created_at", type_=_R.updated_at.type),
        bindparam("p_expires_at", type_=_R.expires_at.type),
    )
    booked = (
        insert(reservations)
        .from_select(RESERVATION_KEYS, rows)
        .returning(_R.id, _R.schedule_id, _R.user_id, _R.quantity, _R.status, _R.updated_at)
        .cte("booked")
    )
    event = select(
        bindparam("p_type", type_=_E.type.type),
        booked.c.id,
        booked.c.schedule_id,
        booked.c.user_id,
        booked.c.quantity,
        booked.c.status,
        booked.c.updated_at,
    )
    # SQLAlchemy keeps an INSERT's rowcount only when asked; it says whether seats were taken.
    return insert(events).from_select(EVENT_KEYS, event).execution_options(preserve_rowcount=True)


BOOK_IN_ONE_STATEMENT = _book_in_one_statement()


def group_params(group: Sequence[Reservation]) -> dict[str, Any]:
    """The parameters of :data:`BOOK_GROUP_IN_ONE_STATEMENT`: one instant for the group."""
    first = group[0]
    return {
        "p_ids": [r.id for r in group],
        "p_schedule_ids": [r.schedule_id for r in group],
        "p_user_ids": [r.user_id for r in group],
        "p_quantities": [r.quantity for r in group],
        "p_status": str(first.status),
        "p_type": event_type(first.status),
        "p_at": first.created_at,
    }


def _book_group_in_one_statement() -> TextClause:
    """A whole group decided, booked and counted in one autocommit statement (PostgreSQL).

    The group's schedules' rows are locked in the order of their ids (``FOR UPDATE``
    re-reads each as last committed); on each schedule, each user's first request in the
    group is taken in arrival order while the schedule's running total of seats fits. The
    unique index on active users skips (``ON CONFLICT DO NOTHING``) a member whose user is
    already active there, committed or not yet, and the seats and events are those of the
    rows inserted. The statement returns the ids it booked: a member it did not book is
    booked alone afterwards, exactly as if it had come by itself (so a member it skips,
    for want of seats or behind a skipped one, is no loss). A schedule with pools is no
    member's: its bookings are booked alone, under the lock of its pools too.

    No probe of the reservations: an index probe per member was planned, in a generic
    plan made while the table was new, as a scan of the schedule's reservations.
    """
    r, e, s = reservations, events, schedules
    sql = f"""
WITH members AS (
    SELECT m.id, m.schedule_id, m.user_id, m.quantity, m.ord
    FROM unnest(
        CAST(:p_ids AS text[]), CAST(:p_schedule_ids AS text[]),
        CAST(:p_user_ids AS text[]), CAST(:p_quantities AS int[])
    ) WITH ORDINALITY
        AS m(id, schedule_id, user_id, quantity, ord)
), free AS (
    SELECT {s.c.id.name} AS schedule_id, {s.c.capacity.name} - {s.c.reserved.name} AS seats
    FROM {s.name} WHERE {s.c.id.name} = ANY(CAST(:p_schedule_ids AS text[]))
        AND {s.c.pool_count.name} = 0
    ORDER BY {s.c.id.name} FOR UPDATE
), firsts AS (
    SELECT m.*, row_number() OVER (PARTITION BY m.schedule_id, m.user_id ORDER BY m.ord) AS nth
    FROM members m
), running AS (
    SELECT f.id, f.schedule_id, f.user_id, f.quantity, f.ord,
           sum(f.quantity) OVER (PARTITION BY f.schedule_id ORDER BY f.ord) AS upto
    FROM firsts f WHERE f.nth = 1
), chosen AS (
    SELECT g.* FROM running g JOIN free ON free.schedule_id = g.schedule_id
    WHERE g.upto <= free.seats
), booked AS (
    INSERT INTO {r.name} ({", ".join(RESERVATION_KEYS)})
    SELECT c.id, c.schedule_id, c.user_id, c.quantity, :p_status, :p_at, :p_at, NULL
    FROM chosen c ORDER BY c.ord
    ON CONFLICT ({r.c.schedule_id.name}, {r.c.active_user_id.name}) DO NOTHING
    RETURNING {r.c.id.name}, {r.c.schedule_id.name}, {r.c.quantity.name}
), appended AS (
    INSERT INTO {e.name} ({", ".join(EVENT_KEYS)})
    SELECT :p_type, c.id, c.schedule_id, c.user_id, c.quantity, :p_status, :p_at
    FROM chosen c JOIN booked b ON b.id = c.id ORDER BY c.ord
), taken AS (
    UPDATE {s.name} SET {s.c.reserved.name} = {s.c.reserved.name} + t.seats
    FROM (SELECT b.schedule_id, sum(b.quantity) AS seats FROM booked b GROUP BY b.schedule_id) t
    WHERE {s.name}.{s.c.id.name} = t.schedule_id
)
SELECT id FROM booked
"""  # noqa: S608 - only the library's own table and column names are interpolated
    return text(sql).bindparams(
        bindparam("p_ids", type_=ARRAY(String)),
        bindparam("p_schedule_ids", type_=ARRAY(String)),
        bindparam("p_user_ids", type_=ARRAY(String)),
        bindparam("p_quantities", type_=ARRAY(Integer)),
        bindparam("p_status", type_=_R.status.type),
        bindparam("p_type", type_=_E.type.type),
        bindparam("p_at", type_=_R.created_at.type),
    )


BOOK_GROUP_IN_ONE_STATEMENT = _book_group_in_one_statement()
