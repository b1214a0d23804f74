"""The checks and refusals the use cases share: found, owned, expired, refused (private)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from reservation_core._use_cases._offers import offer_seats
from reservation_core.domain import (
    Action,
    Reservation,
    ReservationStatus,
    Schedule,
    transition_target,
)
from reservation_core.domain._booking import LineRefusal, decide_lines, seat_changes
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import AbstractUnitOfWork, IdempotencyRecord, TransientConflict

T = TypeVar("T")

_log = logging.getLogger("reservation_core.service")


def fingerprint(schedule_id: str, quantity: int, *, hold: bool) -> str:
    # A booking's fingerprint predates holds: it stays as it was, so stored keys still match.
    request = f"{schedule_id}\x00{quantity}" + ("\x00HELD" if hold else "")
    return hashlib.sha256(request.encode()).hexdigest()


def new_reservation(
    schedule_id: str,
    user_id: str,
    quantity: int,
    now: datetime,
    *,
    expires_at: datetime | None = None,
    order_id: str | None = None,
) -> Reservation:
    """A reservation about to be booked, under a fresh UUID string.

    ``HELD`` until ``expires_at`` if given, else ``CONFIRMED``.
    """
    return Reservation(
        id=str(uuid.uuid4()),
        schedule_id=schedule_id,
        user_id=user_id,
        quantity=quantity,
        status=ReservationStatus.CONFIRMED if expires_at is None else ReservationStatus.HELD,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
        order_id=order_id,
    )


def duplicate(existing: Reservation) -> BusinessException:
    return BusinessException(
        ErrorCode.DUPLICATE_RESERVATION,
        details={"reservation_id": existing.id},
    )


def hold_details(reservation: Reservation) -> dict[str, str]:
    details = {"reservation_id": reservation.id, "status": str(reservation.status)}
    if reservation.expires_at is not None:
        details["expires_at"] = reservation.expires_at.isoformat()
    return details


def drift(schedule_id: str) -> BusinessException:
    _log.warning(
        "seat count drift on schedule %s: fewer seats reserved than its reservations "
        "hold; repair it with an audit",
        schedule_id,
        extra={"schedule_id": schedule_id},
    )
    return BusinessException(
        ErrorCode.STORAGE_UNAVAILABLE,
        "The schedule's stored seat count is below its held and confirmed reservations; "
        "repair it with an audit.",
        details={"reason": "seat_count_drift", "schedule_id": schedule_id},
    )


def require(reservation: Reservation | None) -> Reservation:
    if reservation is None:  # pragma: no cover - the last attempt returns or raises
        raise TransientConflict("booking made no progress")
    return reservation


def existing_schedule(uow: AbstractUnitOfWork, schedule_id: str) -> Schedule:
    schedule = uow.schedules.get(schedule_id)
    if schedule is None:
        raise BusinessException(ErrorCode.SCHEDULE_NOT_FOUND, details={"schedule_id": schedule_id})
    return schedule


def owned_reservation(
    uow: AbstractUnitOfWork, reservation_id: str, user_id: str | None
) -> Reservation:
    reservation = uow.reservations.get(reservation_id)
    if reservation is None or (user_id is not None and reservation.user_id != user_id):
        raise BusinessException(
            ErrorCode.RESERVATION_NOT_FOUND, details={"reservation_id": reservation_id}
        )
    return reservation


def allowed(action: Action, reservation: Reservation) -> Reservation:
    """``reservation`` if ``action`` may proceed; else the error the state machine names."""
    try:
        transition_target(action, reservation.status)
    except BusinessException as exc:
        if exc.code is ErrorCode.HOLD_EXPIRED:
            exc.details.update(hold_details(reservation))
        raise
    return reservation


def confirmable(reservation: Reservation) -> Reservation:
    """``reservation`` if confirm may proceed; else the error the state machine names."""
    return allowed(Action.CONFIRM, reservation)


def after_lapse(
    uow: AbstractUnitOfWork, action: Action, current: Reservation, now: datetime
) -> Reservation:
    """The answer to ``action`` on a hold whose compare-and-set (``HELD``, unexpired) missed.

    Expired, or moved by a concurrent call: the schedule's lapsed holds expire (schedule
    row first; their seats return) and that is committed, then the reservation as it is
    now answers: ``HOLD_EXPIRED``, the state machine's refusal, or (confirm of a
    ``CONFIRMED`` one) itself.
    """
    if expire_holds(uow, current.schedule_id, now):
        uow.commit()
    latest = owned_reservation(uow, current.id, None)
    if latest.status is ReservationStatus.HELD:
        raise TransientConflict("hold neither moved nor expired")
    return allowed(action, latest)


def refusal(
    uow: AbstractUnitOfWork, schedule_id: str, user_id: str, quantity: int
) -> BusinessException:
    schedule = existing_schedule(uow, schedule_id)
    existing = uow.reservations.find_active(schedule_id, user_id)
    if existing is not None:  # "duplicate" outranks "capacity"
        return duplicate(existing)
    return short(quantity, schedule.remaining)


def short(quantity: int, remaining: int, counter: str | None = None) -> BusinessException:
    """``CAPACITY_EXCEEDED``; for a schedule with pools, ``counter`` names the one short."""
    details: dict[str, object] = {"requested": quantity, "remaining": remaining}
    if counter is not None:
        details["schedule_id"] = counter
    return BusinessException(ErrorCode.CAPACITY_EXCEEDED, details=details)


def expire_holds(
    uow: AbstractUnitOfWork, schedule_id: str, now: datetime, limit: int | None = None
) -> int:
    """Expire the schedule's lapsed holds (at most ``limit``) in the unit of work; how many.

    Uncommitted: the caller commits. The seats they free go to the schedule's waiting
    list first, in this transaction.
    """
    # Without a limit, called as before limits existed: an adapter's older method works.
    expired = (
        uow.reservations.expire_holds(schedule_id, now)
        if limit is None
        else uow.reservations.expire_holds(schedule_id, now, limit)
    )
    if expired is None:
        raise drift(schedule_id)
    if expired:
        offer_seats(uow, schedule_id, now)
    return expired


def take_lines(
    uow: AbstractUnitOfWork, lines: Sequence[Reservation], now: datetime
) -> LineRefusal | None:
    """Book ``lines`` together, taking seats from each one's schedule and pools; uncommitted.

    The one path for a booking that counts against pools, and for an order: every counter
    the lines count against is locked first, in the order of the counters' ids (so two
    such bookings never wait for each other in a cycle), then all lines are decided
    together (the domain's ``decide_lines``) and written, or none. Each line's schedule
    first releases its lapsed holds (docs/orders.md), under the locks, so a lapsed hold
    is never seen taking a seat an order needs.
    Returns the first line that does not fit, having written nothing but the expiries
    (the caller rolls back).
    """
    schedule_ids = [line.schedule_id for line in lines]
    counters = uow.schedules.lock(schedule_ids)
    expired = [expire_holds(uow, sid, now) for sid in schedule_ids if sid in counters]
    if any(expired):
        counters = uow.schedules.lock(schedule_ids)  # locked already: reads the new counts
    refused = _decide(uow, lines, counters)
    if refused is None:
        uow.schedules.move_seats(seat_changes(lines, counters, 1))
        uow.reservations.insert(lines)
    return refused


def _decide(
    uow: AbstractUnitOfWork, lines: Sequence[Reservation], counters: dict[str, Schedule]
) -> LineRefusal | None:
    """The first of ``lines`` that does not fit the locked ``counters``, if any."""
    taken = uow.reservations.active_users([(r.schedule_id, r.user_id) for r in lines])
    return decide_lines(lines, counters, taken)


def line_refusal(
    uow: AbstractUnitOfWork, refused: LineRefusal, line: Reservation
) -> BusinessException:
    """The error a line refused by :func:`take_lines` raises, as it would on its own."""
    if refused.reason == "missing":
        return BusinessException(
            ErrorCode.SCHEDULE_NOT_FOUND, details={"schedule_id": line.schedule_id}
        )
    if refused.reason == "duplicate":
        uow.rollback()
        existing = uow.reservations.find_active(line.schedule_id, line.user_id)
        if existing is None:  # cancelled since: a fresh attempt may succeed
            raise TransientConflict("duplicate reservation vanished")
        return duplicate(existing)
    return short(line.quantity, refused.remaining, refused.counter if refused.pooled else None)


def replay_or_store(
    uow: AbstractUnitOfWork,
    record: IdempotencyRecord,
    ttl: timedelta,
    *,
    found: Callable[[], object],
    load: Callable[[str], T | None],
) -> T | None:
    """What a stored key stands for (``load`` of its id), or ``None`` once ``record`` is stored.

    The key is stored before the seats are taken: a concurrent request with the same key
    waits on the key's row, without holding any schedule's row lock, then replays.
    ``found`` raises what "not found" the request meets: it outranks key reuse.
    """
    stored = uow.idempotency_keys.get(record.user_id, record.key)
    if stored is None:
        uow.idempotency_keys.add(record)
        return None
    if stored.created_at < record.created_at - ttl:  # as purge() decides
        uow.idempotency_keys.replace(stored, record)
        return None
    if stored.fingerprint != record.fingerprint:
        found()
        raise BusinessException(
            ErrorCode.IDEMPOTENCY_KEY_REUSED, details={"idempotency_key": record.key}
        )
    replayed = load(stored.reservation_id)
    if replayed is None:  # pragma: no cover - the key and its rows commit together
        raise TransientConflict("idempotency key without what it made")
    return replayed
