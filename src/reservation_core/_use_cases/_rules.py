"""The checks and refusals the use cases share: found, owned, expired, refused (private)."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from reservation_core.domain import (
    Action,
    Reservation,
    ReservationStatus,
    Schedule,
    transition_target,
)
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import AbstractUnitOfWork, TransientConflict

_log = logging.getLogger("reservation_core.service")


def fingerprint(schedule_id: str, quantity: int, *, hold: bool) -> str:
    # A booking's fingerprint predates holds: it stays as it was, so stored keys still match.
    request = f"{schedule_id}\x00{quantity}" + ("\x00HELD" if hold else "")
    return hashlib.sha256(request.encode()).hexdigest()


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
    return BusinessException(
        ErrorCode.CAPACITY_EXCEEDED,
        details={"requested": quantity, "remaining": schedule.remaining},
    )


def expire_holds(
    uow: AbstractUnitOfWork, schedule_id: str, now: datetime, limit: int | None = None
) -> int:
    """Expire the schedule's lapsed holds (at most ``limit``) in the unit of work; how many.

    Uncommitted: the caller commits.
    """
    # Without a limit, called as before limits existed: an adapter's older method works.
    expired = (
        uow.reservations.expire_holds(schedule_id, now)
        if limit is None
        else uow.reservations.expire_holds(schedule_id, now, limit)
    )
    if expired is None:
        raise drift(schedule_id)
    return expired
