"""Every prebuilt SQLAlchemy Core statement of the adapter, each defined once (private).

Statements are built at import; SQLAlchemy caches their compiled form per dialect, so a
call pays only for its parameters and the round trip. Parameter names never equal a column
name where a statement also sets columns: SQLAlchemy would turn such a key into an extra
``SET`` clause of an ``UPDATE``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Dialect,
    Integer,
    String,
    and_,
    bindparam,
    case,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import Select

from reservation_core.domain import Reservation, ReservationStatus, event_type

from .tables import (
    event_consumers,
    event_deliveries,
    events,
    idempotency_keys,
    reservations,
    schedules,
)

_S, _R, _K = schedules.c, reservations.c, idempotency_keys.c
_E, _C, _D = events.c, event_consumers.c, event_deliveries.c

# -- schedules --------------------------------------------------------------------------------

SCHEDULE = select(_S.id, _S.capacity, _S.reserved).where(_S.id == bindparam("schedule_id"))
ADD_SCHEDULE = insert(schedules)
SET_CAPACITY = (
    update(schedules)
    .where(_S.id == bindparam("schedule_id"), _S.reserved <= bindparam("capacity"))
    .values(capacity=bindparam("capacity"))
)
RELEASE_SEATS = (
    update(schedules)
    .where(_S.id == bindparam("schedule_id"), _S.reserved >= bindparam("quantity"))
    .values(reserved=_S.reserved - bindparam("quantity"))
)
TAKE_SEATS = (
    update(schedules)
    .where(
        _S.id == bindparam("p_schedule_id"),
        # capacity - q, not reserved + q: the sum could overflow a 32-bit column.
        _S.reserved <= _S.capacity - bindparam("p_quantity"),
    )
    .values(reserved=_S.reserved + bindparam("p_quantity"))
)

# -- reservations -----------------------------------------------------------------------------

RESERVATION_KEYS = [
    "id",
    "schedule_id",
    "user_id",
    "quantity",
    "status",
    "created_at",
    "updated_at",
    "expires_at",
]
RESERVATION_COLUMNS = tuple(reservations.c[key] for key in RESERVATION_KEYS)
RESERVATION = select(*RESERVATION_COLUMNS).where(_R.id == bindparam("reservation_id"))
ACTIVE = select(*RESERVATION_COLUMNS).where(
    _R.schedule_id == bindparam("schedule_id"),
    _R.active_user_id == bindparam("user_id"),
)
INSERT_RESERVATION = insert(reservations)
TRANSITION = (
    update(reservations)
    .where(_R.id == bindparam("reservation_id"), _R.status == bindparam("from_status"))
    .values(status=bindparam("to_status"), updated_at=bindparam("at"))
)

# -- holds ------------------------------------------------------------------------------------

_HELD, _CONFIRMED, _EXPIRED = (
    str(status)
    for status in (ReservationStatus.HELD, ReservationStatus.CONFIRMED, ReservationStatus.EXPIRED)
)
# Confirm and expire are both compare-and-sets on status = 'HELD', on opposite sides of
# expires_at: of a confirm and an expiry racing on one hold, exactly one matches.
CONFIRM_HOLD = (
    update(reservations)
    .where(
        _R.id == bindparam("reservation_id"),
        _R.status == _HELD,
        _R.expires_at > bindparam("at"),
    )
    .values(status=_CONFIRMED, updated_at=bindparam("at"))
)
# FOR UPDATE locks the row on PostgreSQL and MariaDB; SQLite's unit of work already holds
# the database's write lock (BEGIN IMMEDIATE), and SQLAlchemy omits the clause there.
LOCK_SCHEDULE = select(_S.id).where(_S.id == bindparam("schedule_id")).with_for_update()
LAPSED_HOLDS = select(_R.id, _R.quantity).where(
    _R.schedule_id == bindparam("schedule_id"),
    _R.status == _HELD,
    _R.expires_at <= bindparam("at"),
)
EXPIRE_HOLD = (
    update(reservations)
    .where(
        _R.id == bindparam("reservation_id"),
        _R.status == _HELD,
        _R.expires_at <= bindparam("at"),
    )
    .values(status=_EXPIRED, updated_at=bindparam("at"))
)
# No DISTINCT: SQLite would answer it by scanning a schedule_id index from end to end; the
# caller drops repeats. The range on (status, expires_at, schedule_id) covers the query.
SCHEDULES_WITH_LAPSED_HOLDS = select(_R.schedule_id).where(
    _R.status == _HELD, _R.expires_at <= bindparam("at")
)

# -- pages ------------------------------------------------------------------------------------


@functools.cache
def page(by_schedule: bool, by_user: bool, by_status: bool, after: bool) -> Select[Any]:
    """The keyset page query for one combination of filters (each built once).

    ``created_at >= :c AND (created_at > :c OR id > :i)`` rather than a row comparison:
    its first term is an index range bound on every backend, with the filters' equality
    columns before it in the index (``(schedule_id, created_at, id)`` or ``(user_id,
    created_at, id)``), so a page costs a range scan however deep it is.
    """
    query = select(*RESERVATION_COLUMNS)
    if by_schedule:
        query = query.where(_R.schedule_id == bindparam("schedule_id"))
    if by_user:
        query = query.where(_R.user_id == bindparam("user_id"))
    if by_status:
        query = query.where(_R.status == bindparam("status"))
    if after:
        query = query.where(
            _R.created_at >= bindparam("after_created_at"),
            or_(
                _R.created_at > bindparam("after_created_at"),
                _R.id > bindparam("after_id"),
            ),
        )
    return query.order_by(_R.created_at, _R.id).limit(
        bindparam("limit", type_=Integer, literal_execute=True)
    )


def reservation_row(reservation: Reservation) -> dict[str, Any]:
    """The ``rc_reservations`` row of a reservation (keys: :data:`RESERVATION_KEYS`)."""
    return {
        "id": reservation.id,
        "schedule_id": reservation.schedule_id,
        "user_id": reservation.user_id,
        "quantity": reservation.quantity,
        "status": str(reservation.status),
        "created_at": reservation.created_at,
        "updated_at": reservation.updated_at,
        "expires_at": reservation.expires_at,
    }


def seats_of(reservation: Reservation) -> dict[str, Any]:
    """The parameters of :data:`TAKE_SEATS` for a reservation."""
    return {"p_schedule_id": reservation.schedule_id, "p_quantity": reservation.quantity}


# -- events -----------------------------------------------------------------------------------

EVENT_KEYS = [
    "type",
    "reservation_id",
    "schedule_id",
    "user_id",
    "quantity",
    "status",
    "occurred_at",
]
APPEND_EVENT = insert(events)


def event_row(reservation: Reservation) -> dict[str, Any]:
    """The ``rc_events`` row of a reservation as it now is (keys: :data:`EVENT_KEYS`)."""
    return {
        "type": event_type(reservation.status),
        "reservation_id": reservation.id,
        "schedule_id": reservation.schedule_id,
        "user_id": reservation.user_id,
        "quantity": reservation.quantity,
        "status": str(reservation.status),
        "occurred_at": reservation.updated_at,
    }


# After a compare-and-set moved a reservation: its event, from the row as it now is.
APPEND_TRANSITION_EVENT = insert(events).from_select(
    EVENT_KEYS,
    select(
        bindparam("p_type", type_=_E.type.type),
        _R.id,
        _R.schedule_id,
        _R.user_id,
        _R.quantity,
        _R.status,
        _R.updated_at,
    ).where(_R.id == bindparam("reservation_id")),
)


def transition_params(
    reservation_id: str,
    from_status: ReservationStatus,
    to_status: ReservationStatus,
    at: datetime,
) -> dict[str, Any]:
    """The parameters of :data:`TRANSITION` (and of the event statements that follow it)."""
    return {
        "reservation_id": reservation_id,
        "from_status": str(from_status),
        "to_status": str(to_status),
        "at": at,
        "p_type": event_type(to_status),
    }


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


def book_in_one_statement_params(reservation: Reservation) -> dict[str, Any]:
    """The parameters of :data:`BOOK_IN_ONE_STATEMENT` for a reservation."""
    return {
        "p_id": reservation.id,
        "p_schedule_id": reservation.schedule_id,
        "p_user_id": reservation.user_id,
        "p_quantity": reservation.quantity,
        "p_status": str(reservation.status),
        "p_created_at": reservation.created_at,
        "p_type": event_type(reservation.status),
        "p_expires_at": reservation.expires_at,
    }


# -- event consumers --------------------------------------------------------------------------

TOUCH_CONSUMER = (
    update(event_consumers)
    .where(_C.consumer == bindparam("p_consumer"))
    .values(claimed_at=bindparam("p_now"))
)
ADD_CONSUMER = insert(event_consumers)
_OF_CONSUMER = and_(_D.event_id == _E.id, _D.consumer == bindparam("p_consumer"))
CLAIMABLE = (
    select(
        _E.id,
        _E.type,
        _E.reservation_id,
        _E.schedule_id,
        _E.user_id,
        _E.quantity,
        _E.status,
        _E.occurred_at,
        _D.event_id.label("claimed_before"),
    )
    .select_from(events.outerjoin(event_deliveries, _OF_CONSUMER))
    .where(
        or_(
            _D.event_id.is_(None),
            and_(_D.acked_at.is_(None), _D.claimed_at < bindparam("p_lease_expired")),
        )
    )
    .order_by(_E.id)
)
ADD_DELIVERY = insert(event_deliveries)
RENEW_DELIVERY = (
    update(event_deliveries)
    .where(_D.consumer == bindparam("p_consumer"), _D.event_id == bindparam("p_event_id"))
    .values(claimed_at=bindparam("p_now"))
)
ACK = (
    update(event_deliveries)
    .where(
        _D.consumer == bindparam("p_consumer"),
        _D.event_id.in_(bindparam("p_event_ids", expanding=True)),
        _D.acked_at.is_(None),
    )
    .values(acked_at=bindparam("p_now"))
)
_OLD_EVENTS = select(_E.id).where(_E.occurred_at < bindparam("p_before"))
PURGE_DELIVERIES = delete(event_deliveries).where(_D.event_id.in_(_OLD_EVENTS.scalar_subquery()))
PURGE_EVENTS = delete(events).where(_E.occurred_at < bindparam("p_before"))


# -- idempotency keys -------------------------------------------------------------------------

_KEY_WHERE = and_(_K.user_id == bindparam("user_id"), _K.key == bindparam("key"))
KEY = select(_K.user_id, _K.key, _K.fingerprint, _K.reservation_id, _K.created_at).where(_KEY_WHERE)
ADD_KEY = insert(idempotency_keys)
# Replacing an expired record is a compare-and-set on the instant it was stored: of several
# requests that found the same expired record, exactly one replaces it.
REPLACE_EXPIRED_KEY = (
    update(idempotency_keys)
    .where(
        _K.user_id == bindparam("p_user_id"),
        _K.key == bindparam("p_key"),
        _K.created_at == bindparam("p_stored_at"),
    )
    .values(
        fingerprint=bindparam("p_fingerprint"),
        reservation_id=bindparam("p_reservation_id"),
        created_at=bindparam("p_created_at"),
    )
)
PURGE_KEYS = delete(idempotency_keys).where(_K.created_at < bindparam("before"))


# -- driver SQL -------------------------------------------------------------------------------


class DriverSQL:
    """Core statements compiled once per dialect, to run with the driver's own ``execute``.

    Skips the per-call compile-cache lookup and bind processing (the caller passes
    driver-ready values), for the statements run while the schedule row is locked. The
    parameters are given by name and passed in the driver's own paramstyle: a dict for
    ``pyformat``/``named``, a tuple in the compiled order for ``format``/``qmark``.

    Several statements (or plain SQL text without parameters, such as ``"COMMIT"``) make
    one ``;``-separated script, for a connection that accepts several statements in one
    round trip; their parameter names are shared.
    """

    def __init__(
        self, *statements: ClauseElement | str, column_keys: Sequence[str] | None = None
    ) -> None:
        self._statements = statements
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[tuple[type[Dialect], str], tuple[str, Callable[..., Any]]] = {}

    def for_dialect(self, dialect: Dialect) -> tuple[str, Callable[[dict[str, Any]], Any]]:
        """The SQL text for ``dialect`` and the function shaping its parameters."""
        key = (type(dialect), dialect.paramstyle)
        found = self._compiled.get(key)
        if found is None:
            texts: list[str] = []
            order: list[str] = []
            positional = False
            for statement in self._statements:
                if isinstance(statement, str):
                    texts.append(statement)
                    continue
                compiled = statement.compile(dialect=dialect, column_keys=self._column_keys)
                assert isinstance(compiled, SQLCompiler)  # noqa: S101 - a Core statement's compiler
                texts.append(str(compiled))
                positional = compiled.positional
                order += compiled.positiontup or []
            if positional:
                names = tuple(order)

                def shape(params: dict[str, Any]) -> Any:
                    return tuple(params[name] for name in names)

            else:

                def shape(params: dict[str, Any]) -> Any:
                    return params

            found = self._compiled[key] = ("; ".join(texts), shape)
        return found


# -- group commit: one lock of each schedule's row for a group of bookings ------------------

#: The group's schedules, locked in the order of their ids: every group takes its locks in
#: that one order, so two groups never wait for each other in a cycle.
SCHEDULES_FOR_UPDATE = (
    select(_S.id, _S.capacity, _S.reserved)
    .where(_S.id.in_(bindparam("schedule_ids", expanding=True)))
    .order_by(_S.id)
    .with_for_update()
)
#: The active reservations of the group's users on its schedules (a superset of the pairs
#: asked about: each user on each schedule; the caller keeps the pairs it asked about).
ACTIVE_USERS = select(_R.schedule_id, _R.active_user_id).where(
    _R.schedule_id.in_(bindparam("schedule_ids", expanding=True)),
    _R.active_user_id.in_(bindparam("user_ids", expanding=True)),
)


@functools.lru_cache(maxsize=128)
def add_group_seats(count: int) -> Update:
    """Seats added to ``count`` schedules in one statement (see :func:`group_seats`).

    Built once per number of schedules, so SQLAlchemy's compiled cache serves it.
    """
    ids = [bindparam(f"s{n}", type_=_S.id.type) for n in range(count)]
    seats = [bindparam(f"q{n}", type_=_S.reserved.type) for n in range(count)]
    grows = case(*[(_S.id == i, q) for i, q in zip(ids, seats, strict=True)], else_=0)
    return update(schedules).where(_S.id.in_(ids)).values(reserved=_S.reserved + grows)


def seat_params(group: Sequence[Reservation]) -> dict[str, Any]:
    """Each schedule's seats a decided group takes: ``s0``, ``q0``, ... in id order."""
    seats: dict[str, int] = {}
    for reservation in group:
        seats[reservation.schedule_id] = (
            seats.get(reservation.schedule_id, 0) + reservation.quantity
        )
    params: dict[str, Any] = {}
    for n, schedule_id in enumerate(sorted(seats)):
        params[f"s{n}"], params[f"q{n}"] = schedule_id, seats[schedule_id]
    return params


def group_seats(group: Sequence[Reservation]) -> tuple[Update, dict[str, Any]]:
    """The statement adding a decided group's seats, and its parameters."""
    params = seat_params(group)
    return add_group_seats(len(params) // 2), params


def decide_group(
    group: Sequence[Reservation], free: dict[str, int], taken: set[tuple[str, str]]
) -> list[bool]:
    """Which of a group's members are booked, as one by one in list order would book them.

    ``free`` holds each locked schedule's seats left (a schedule missing from it does not
    exist), ``taken`` the ``(schedule_id, user_id)`` pairs already active; both are updated
    with the members booked.
    """
    booked: list[bool] = []
    for reservation in group:
        slot = (reservation.schedule_id, reservation.user_id)
        seats = free.get(reservation.schedule_id, -1)
        fits = slot not in taken and 0 <= reservation.quantity <= seats
        if fits:
            free[reservation.schedule_id] = seats - reservation.quantity
            taken.add(slot)
        booked.append(fits)
    return booked


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
    for want of seats or behind a skipped one, is no loss).

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
