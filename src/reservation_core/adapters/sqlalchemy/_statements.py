"""The portable SQLAlchemy Core statements of the adapter, each defined once (private).

Portable: every supported database runs them as they are. What only one database runs
(PostgreSQL's data-modifying CTEs, MariaDB's scripts) is in that database's folder under
``_dialects/``; the driver-level compile cache is ``_driver_sql``.

Statements are built at import; SQLAlchemy caches their compiled form per dialect, so a
call pays only for its parameters and the round trip. Parameter names never equal a column
name where a statement also sets columns: SQLAlchemy would turn such a key into an extra
``SET`` clause of an ``UPDATE``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.selectable import Select

from reservation_core.domain import Reservation, ReservationStatus, event_type
from reservation_core.domain._events import EVENT_FIELDS, event_fields

from .tables import (
    event_consumers,
    event_deliveries,
    events,
    idempotency_keys,
    reservations,
    schedule_pools,
    schedules,
    waitlist_entries,
)

_S, _R, _K, _P = schedules.c, reservations.c, idempotency_keys.c, schedule_pools.c
_W = waitlist_entries.c
_E, _C, _D = events.c, event_consumers.c, event_deliveries.c

# -- schedules --------------------------------------------------------------------------------

SCHEDULE = select(_S.id, _S.capacity, _S.reserved, _S.pool_count, _S.waitlisted).where(
    _S.id == bindparam("schedule_id")
)
ADD_SCHEDULE = insert(schedules)
ADD_POOLS = insert(schedule_pools)
#: The pools of some schedules (pools never change: read without a lock).
POOLS_OF = (
    select(_P.schedule_id, _P.pool_id)
    .where(_P.schedule_id.in_(bindparam("schedule_ids", expanding=True)))
    .order_by(_P.schedule_id, _P.pool_id)
)
#: Counters (schedules and pools) locked in the order of their ids: the one global lock
#: order of every path that locks more than one (see ``ports``). FOR UPDATE locks the rows
#: on PostgreSQL and MariaDB; SQLite's unit of work already holds the database's write
#: lock (BEGIN IMMEDIATE), and SQLAlchemy omits the clause there.
COUNTERS_FOR_UPDATE = (
    select(_S.id, _S.capacity, _S.reserved, _S.pool_count, _S.waitlisted)
    .where(_S.id.in_(bindparam("schedule_ids", expanding=True)))
    .order_by(_S.id)
    .with_for_update()
)
#: Only schedules without pools: the fast paths' guard. Under READ COMMITTED (and in
#: PostgreSQL at any level) an UPDATE whose WHERE rejects a row leaves it unlocked, so a
#: schedule with pools is next locked in the global order, by ``COUNTERS_FOR_UPDATE``.
_NO_POOLS = _S.pool_count == literal_column("0")
SET_CAPACITY = (
    update(schedules)
    .where(_S.id == bindparam("schedule_id"), _S.reserved <= bindparam("capacity"))
    .values(capacity=bindparam("capacity"))
)
#: Seats returned where no pool and no waiting list is involved; elsewhere the schedule and
#: its pools are locked in id order and the seats offered to the waiting list.
RELEASE_SEATS = (
    update(schedules)
    .where(
        _S.id == bindparam("schedule_id"),
        _S.reserved >= bindparam("quantity"),
        _NO_POOLS,
        _S.waitlisted == literal_column("0"),
    )
    .values(reserved=_S.reserved - bindparam("quantity"))
)
TAKE_SEATS = (
    update(schedules)
    .where(
        _S.id == bindparam("p_schedule_id"),
        # capacity - q, not reserved + q: the sum could overflow a 32-bit column.
        _S.reserved <= _S.capacity - bindparam("p_quantity"),
        _NO_POOLS,
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
RESERVATION_COLUMNS = (*(reservations.c[key] for key in RESERVATION_KEYS), _R.order_id)
RESERVATION = select(*RESERVATION_COLUMNS).where(_R.id == bindparam("reservation_id"))
ACTIVE = select(*RESERVATION_COLUMNS).where(
    _R.schedule_id == bindparam("schedule_id"),
    _R.active_user_id == bindparam("user_id"),
)
INSERT_RESERVATION = insert(reservations)
SET_QUANTITY = (
    update(reservations)
    .where(
        _R.id == bindparam("reservation_id"),
        _R.status == bindparam("p_status"),
        _R.quantity == bindparam("from_quantity"),
    )
    .values(quantity=bindparam("to_quantity"), updated_at=bindparam("at"))
)
ORDER_LINES = (
    select(*RESERVATION_COLUMNS).where(_R.order_id == bindparam("order_id")).order_by(_R.order_line)
)
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


def line_row(reservation: Reservation, line: int) -> dict[str, Any]:
    """The ``rc_reservations`` row of an order's line (or of a booking on a schedule with pools)."""
    return {**reservation_row(reservation), "order_id": reservation.order_id, "order_line": line}


def seats_of(reservation: Reservation) -> dict[str, Any]:
    """The parameters of :data:`TAKE_SEATS` for a reservation."""
    return {"p_schedule_id": reservation.schedule_id, "p_quantity": reservation.quantity}


def booking_params(reservation: Reservation) -> dict[str, Any]:
    """A booking's parameters (``p_`` + column), for the one-round-trip bookings of a dialect."""
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


# -- events -----------------------------------------------------------------------------------

#: The event's columns, in the domain's order of its fields (its one definition).
EVENT_KEYS = list(EVENT_FIELDS)
APPEND_EVENT = insert(events)


def event_row(reservation: Reservation) -> dict[str, Any]:
    """The ``rc_events`` row of a reservation as it now is (keys: :data:`EVENT_KEYS`)."""
    return event_fields(reservation)


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


# -- group commit: one lock of each schedule's row for a group of bookings ------------------

#: The group's schedules, locked in the order of their ids: every group takes its locks in
#: that one order, so two groups never wait for each other in a cycle.
SCHEDULES_FOR_UPDATE = (
    select(_S.id, _S.capacity, _S.reserved)
    .where(_S.id.in_(bindparam("schedule_ids", expanding=True)), _NO_POOLS)
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
    return change_params(seats)


def change_params(changes: dict[str, int]) -> dict[str, Any]:
    """The parameters of :func:`add_group_seats` for seats added per counter, in id order."""
    params: dict[str, Any] = {}
    for n, schedule_id in enumerate(sorted(changes)):
        params[f"s{n}"], params[f"q{n}"] = schedule_id, changes[schedule_id]
    return params


def group_seats(group: Sequence[Reservation]) -> tuple[Update, dict[str, Any]]:
    """The statement adding a decided group's seats, and its parameters."""
    params = seat_params(group)
    return add_group_seats(len(params) // 2), params


# -- waiting lists ----------------------------------------------------------------------------

_ENTRY_COLUMNS = (
    _W.seq,
    _W.id,
    _W.schedule_id,
    _W.user_id,
    _W.quantity,
    _W.status,
    _W.offer_for_us,
    _W.reservation_id,
    _W.created_at,
    _W.updated_at,
)
ADD_ENTRY = insert(waitlist_entries)
ENTRY = select(*_ENTRY_COLUMNS).where(_W.id == bindparam("entry_id"))
ACTIVE_ENTRY = select(*_ENTRY_COLUMNS).where(
    _W.schedule_id == bindparam("schedule_id"), _W.active_user_id == bindparam("user_id")
)
ENTRY_OF_RESERVATION = select(*_ENTRY_COLUMNS).where(
    _W.reservation_id == bindparam("reservation_id")
)
#: A schedule's WAITING entries in join order (the index on schedule, status, seq).
WAITING = (
    select(*_ENTRY_COLUMNS)
    .where(_W.schedule_id == bindparam("schedule_id"), _W.status == literal_column("'WAITING'"))
    .order_by(_W.seq)
)
#: Their first ``limit``: where the offers' walk starts (the same index range, cut short).
FIRST_WAITING = WAITING.limit(bindparam("limit", type_=Integer, literal_execute=True))
#: OFFERED entries whose offer left HELD: the index range of the schedule's offers, each
#: joined to its reservation by primary key.
ANSWERED = (
    select(*_ENTRY_COLUMNS)
    .join_from(waitlist_entries, reservations, _R.id == _W.reservation_id)
    .where(
        _W.schedule_id == bindparam("schedule_id"),
        _W.status == literal_column("'OFFERED'"),
        _R.status != literal_column("'HELD'"),
    )
)
#: A WAITING entry's place: the WAITING entries of its schedule up to it (an index range).
POSITION = select(func.count()).where(
    _W.schedule_id == bindparam("schedule_id"),
    _W.status == literal_column("'WAITING'"),
    _W.seq <= bindparam("seq"),
)
MOVE_ENTRY = (
    update(waitlist_entries)
    .where(_W.id == bindparam("entry_id"), _W.status == bindparam("from_status"))
    .values(
        status=bindparam("to_status"),
        updated_at=bindparam("at"),
        reservation_id=func.coalesce(
            bindparam("offer_id", type_=_W.reservation_id.type), _W.reservation_id
        ),
    )
)
MOVE_WAITLIST = (
    update(schedules)
    .where(_S.id == bindparam("schedule_id"))
    .values(waitlisted=_S.waitlisted + bindparam("change"))
)
#: After an entry's change: its event, from the row as it now is (``reservation_id``
#: holds the entry's id).
APPEND_ENTRY_EVENT = insert(events).from_select(
    EVENT_KEYS,
    select(
        bindparam("p_type", type_=_E.type.type),
        _W.id,
        _W.schedule_id,
        _W.user_id,
        _W.quantity,
        _W.status,
        _W.updated_at,
    ).where(_W.id == bindparam("entry_id")),
)


# -- housekeeping: bounded batches, and one page of schedules --------------------------------


def _limit(name: str = "p_limit") -> Any:
    return bindparam(name, type_=Integer, literal_execute=True)


#: Keyset pages of schedules in id order, on the primary key.
SCHEDULES_PAGE = (
    select(_S.id, _S.capacity, _S.reserved, _S.pool_count, _S.waitlisted)
    .order_by(_S.id)
    .limit(_limit())
)
SCHEDULES_PAGE_AFTER = SCHEDULES_PAGE.where(_S.id > bindparam("p_after"))
#: A hold extended: the same compare-and-set as :data:`CONFIRM_HOLD`, so that of an
#: extension and a confirm, cancel or expiry racing on one hold, exactly one matches.
EXTEND_HOLD = (
    update(reservations)
    .where(
        _R.id == bindparam("reservation_id"),
        _R.status == _HELD,
        _R.expires_at > bindparam("at"),
    )
    .values(expires_at=bindparam("p_expires_at"), updated_at=bindparam("at"))
)
_BATCHES = {
    id(LAPSED_HOLDS): LAPSED_HOLDS.limit(_limit()),
    # The earliest to lapse first: the order of the (status, expires_at, ...) index.
    id(SCHEDULES_WITH_LAPSED_HOLDS): SCHEDULES_WITH_LAPSED_HOLDS.order_by(_R.expires_at).limit(
        _limit()
    ),
}


def limited(
    query: Select[Any], params: dict[str, Any], limit: int | None
) -> tuple[Select[Any], dict[str, Any]]:
    """``query`` and ``params`` as they are, or, with a ``limit``, its batch of that size."""
    if limit is None:
        return query, params
    return _BATCHES[id(query)], {**params, "p_limit": limit}


@functools.cache
def expired_keys(skip_locked: bool) -> Select[Any]:
    """The oldest expired idempotency keys, locked (skipping those others hold, if asked)."""
    return (
        select(_K.user_id, _K.key)
        .where(_K.created_at < bindparam("p_before"))
        .order_by(_K.created_at)
        .limit(_limit())
        .with_for_update(skip_locked=skip_locked)
    )


# The created_at condition again: without SKIP LOCKED a concurrent replacement may have
# refreshed a key between the read and the delete.
DELETE_KEYS = delete(idempotency_keys).where(
    tuple_(_K.user_id, _K.key).in_(bindparam("p_keys", expanding=True)),
    _K.created_at < bindparam("p_before"),
)

#: An event every known consumer has acknowledged: no consumer without an acknowledged
#: delivery of it (with no consumer known, every event).
_ACKED_BY_ALL = ~exists(
    select(_C.consumer).where(
        ~exists(
            select(_D.event_id)
            .where(_D.consumer == _C.consumer, _D.event_id == _E.id, _D.acked_at.is_not(None))
            .correlate_except(event_deliveries)  # the event of the outermost query
        )
    )
)


@functools.cache
def acknowledged_events(skip_locked: bool) -> Select[Any]:
    """The oldest events every consumer acknowledged, older than ``p_before``, locked."""
    return (
        select(_E.id)
        .where(_E.id > bindparam("p_after"), _E.occurred_at < bindparam("p_before"), _ACKED_BY_ALL)
        .order_by(_E.id)
        .limit(_limit())
        .with_for_update(skip_locked=skip_locked)
    )


DELETE_DELIVERIES_OF = delete(event_deliveries).where(
    _D.event_id.in_(bindparam("p_ids", expanding=True))
)
DELETE_EVENTS = delete(events).where(_E.id.in_(bindparam("p_ids", expanding=True)))
