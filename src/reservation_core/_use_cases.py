"""The use cases, written once, free of how they are awaited (private).

Each public operation of the services is a *plan*: a generator that checks the arguments,
then yields :class:`Step` s — a function of a unit of work, run in one transaction and
retried as a whole — and receives each step's result. Every use case but one is a single
step; ``release_expired_holds`` is one step per schedule. The plans do no I/O themselves:
:class:`~reservation_core.ReservationService` runs each step in a unit of work in the
calling thread, :class:`~reservation_core.AsyncReservationService` awaits it. The steps
call the repositories synchronously; an asynchronous unit of work runs them without
blocking its event loop (the SQLAlchemy adapter through SQLAlchemy's own greenlet bridge,
``AsyncConnection.run_sync``), so the repositories and their statements exist once too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from collections.abc import Callable, Generator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeAlias, TypeVar

from reservation_core._pages import MAX_PAGE_SIZE, check_status, decode_cursor, encode_cursor
from reservation_core._validation import (
    MAX_IDEMPOTENCY_TTL,
    check_batch,
    check_count,
    check_duration,
    check_event_ids,
    check_id,
    check_instant_after,
    check_optional_id,
    invalid,
    utc_clock_reading,
)
from reservation_core.domain import (
    Action,
    Reservation,
    ReservationEvent,
    ReservationPage,
    ReservationStatus,
    Schedule,
    transition_target,
)
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import (
    AbstractUnitOfWork,
    DuplicateReservationError,
    IdempotencyRecord,
    TransientConflict,
)

_log = logging.getLogger("reservation_core.service")

T = TypeVar("T")


class Step(NamedTuple):
    """One transaction of a plan: ``use_case`` in a fresh unit of work, retried whole.

    ``booking`` names the schedule a booking takes seats on (for admission control);
    ``member`` is a plain booking's ``(user_id, quantity)``, which may instead be booked
    with others of the same schedule in one transaction (group commit).
    """

    use_case: Callable[[AbstractUnitOfWork], Any]
    booking: str | None = None
    member: tuple[str, int] | None = None


#: A use case: yields the steps to run, receives each one's result, returns the answer.
Plan: TypeAlias = Generator[Step, Any, T]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


#: The longest ``hold_for``: far below what a ``datetime`` can add without overflow.
MAX_HOLD = timedelta(days=365)
DEFAULT_HOLD = timedelta(minutes=10)


def _fingerprint(schedule_id: str, quantity: int, *, hold: bool) -> str:
    # A booking's fingerprint predates holds: it stays as it was, so stored keys still match.
    request = f"{schedule_id}\x00{quantity}" + ("\x00HELD" if hold else "")
    return hashlib.sha256(request.encode()).hexdigest()


def _lapsed(reservation: Reservation, now: datetime) -> bool:
    """Whether ``reservation`` is a hold whose ``expires_at`` has passed at ``now``."""
    expires_at = reservation.expires_at
    return (
        reservation.status is ReservationStatus.HELD
        and expires_at is not None
        and expires_at <= now
    )


def _duplicate(existing: Reservation) -> BusinessException:
    return BusinessException(
        ErrorCode.DUPLICATE_RESERVATION,
        details={"reservation_id": existing.id},
    )


def _hold_details(reservation: Reservation) -> dict[str, str]:
    details = {"reservation_id": reservation.id, "status": str(reservation.status)}
    if reservation.expires_at is not None:
        details["expires_at"] = reservation.expires_at.isoformat()
    return details


def _drift(schedule_id: str) -> BusinessException:
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


def _require(reservation: Reservation | None) -> Reservation:
    if reservation is None:  # pragma: no cover - the last attempt returns or raises
        raise TransientConflict("booking made no progress")
    return reservation


def _existing_schedule(uow: AbstractUnitOfWork, schedule_id: str) -> Schedule:
    schedule = uow.schedules.get(schedule_id)
    if schedule is None:
        raise BusinessException(ErrorCode.SCHEDULE_NOT_FOUND, details={"schedule_id": schedule_id})
    return schedule


def _owned_reservation(
    uow: AbstractUnitOfWork, reservation_id: str, user_id: str | None
) -> Reservation:
    reservation = uow.reservations.get(reservation_id)
    if reservation is None or (user_id is not None and reservation.user_id != user_id):
        raise BusinessException(
            ErrorCode.RESERVATION_NOT_FOUND, details={"reservation_id": reservation_id}
        )
    return reservation


def _confirmable(reservation: Reservation) -> Reservation:
    """``reservation`` if confirm may proceed; else the error the state machine names."""
    try:
        transition_target(Action.CONFIRM, reservation.status)
    except BusinessException as exc:
        if exc.code is ErrorCode.HOLD_EXPIRED:
            exc.details.update(_hold_details(reservation))
        raise
    return reservation


def _refusal(
    uow: AbstractUnitOfWork, schedule_id: str, user_id: str, quantity: int
) -> BusinessException:
    schedule = _existing_schedule(uow, schedule_id)
    existing = uow.reservations.find_active(schedule_id, user_id)
    if existing is not None:  # "duplicate" outranks "capacity"
        return _duplicate(existing)
    return BusinessException(
        ErrorCode.CAPACITY_EXCEEDED,
        details={"requested": quantity, "remaining": schedule.remaining},
    )


def _expire_holds(uow: AbstractUnitOfWork, schedule_id: str, now: datetime) -> int:
    """Expire the schedule's lapsed holds in the unit of work; how many (uncommitted)."""
    expired = uow.reservations.expire_holds(schedule_id, now)
    if expired is None:
        raise _drift(schedule_id)
    return expired


class UseCases:
    """Every use case as a :data:`Plan`, over one clock and idempotency TTL."""

    __slots__ = ("_clock", "_idempotency_ttl")

    def __init__(self, clock: Callable[[], datetime], idempotency_ttl: timedelta) -> None:
        self._clock = clock
        self._idempotency_ttl = idempotency_ttl

    # -- schedules -------------------------------------------------------------------------

    def create_schedule(self, schedule_id: object, capacity: object) -> Plan[Schedule]:
        schedule = Schedule(
            id=check_id("schedule_id", schedule_id),
            capacity=check_count("capacity", capacity, minimum=0),
            reserved=0,
        )

        def use_case(uow: AbstractUnitOfWork) -> Schedule:
            if not uow.schedules.add(schedule):
                raise BusinessException(
                    ErrorCode.SCHEDULE_ALREADY_EXISTS, details={"schedule_id": schedule.id}
                )
            uow.commit()
            return schedule

        result: Schedule = yield Step(use_case)
        return result

    def get_schedule(self, schedule_id: object) -> Plan[Schedule]:
        sid = check_id("schedule_id", schedule_id)
        result: Schedule = yield Step(lambda uow: _existing_schedule(uow, sid))
        return result

    def change_capacity(self, schedule_id: object, capacity: object) -> Plan[Schedule]:
        sid = check_id("schedule_id", schedule_id)
        seats = check_count("capacity", capacity, minimum=0)

        def use_case(uow: AbstractUnitOfWork) -> Schedule:
            changed = uow.schedules.set_capacity(sid, seats)
            schedule = _existing_schedule(uow, sid)
            if not changed:
                raise BusinessException(
                    ErrorCode.CAPACITY_BELOW_RESERVED,
                    details={"capacity": seats, "reserved": schedule.reserved},
                )
            uow.commit()
            return schedule

        result: Schedule = yield Step(use_case)
        return result

    # -- reservations ----------------------------------------------------------------------

    def create_reservation(
        self, schedule_id: object, user_id: object, quantity: object, idempotency_key: object
    ) -> Plan[Reservation]:
        return self._book(schedule_id, user_id, quantity, idempotency_key, hold_for=None)

    def hold_reservation(
        self,
        schedule_id: object,
        user_id: object,
        quantity: object,
        hold_for: object,
        idempotency_key: object,
    ) -> Plan[Reservation]:
        # ``hold_for`` is checked after the arguments before it (in signature order).
        check_id("schedule_id", schedule_id)
        check_id("user_id", user_id)
        check_count("quantity", quantity, minimum=1)
        duration = check_duration("hold_for", hold_for, maximum=MAX_HOLD)
        return (
            yield from self._book(
                schedule_id, user_id, quantity, idempotency_key, hold_for=duration
            )
        )

    def confirm_reservation(self, reservation_id: object, user_id: object) -> Plan[Reservation]:
        rid = check_id("reservation_id", reservation_id)
        owner = check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            current = _confirmable(_owned_reservation(uow, rid, owner))
            if current.status is ReservationStatus.CONFIRMED:
                return current
            now = self._now()
            if uow.reservations.confirm_hold(rid, now):
                uow.commit()
                return dataclasses.replace(
                    current, status=ReservationStatus.CONFIRMED, updated_at=now
                )
            # Expired, or moved by a concurrent call: expire the schedule's lapsed holds
            # (schedule row first), commit that, and answer for the status as it is now.
            if _expire_holds(uow, current.schedule_id, now):
                uow.commit()
            latest = _owned_reservation(uow, rid, None)
            if latest.status is ReservationStatus.HELD:
                raise TransientConflict("hold neither confirmed nor expired")
            return _confirmable(latest)

        result: Reservation = yield Step(use_case)
        return result

    def move(self, action: Action, reservation_id: object, user_id: object) -> Plan[Reservation]:
        """Cancel or refund: the seats return, the status moves, atomically."""
        rid = check_id("reservation_id", reservation_id)
        owner = check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            current = _owned_reservation(uow, rid, owner)
            target = transition_target(action, current.status)
            now = self._now()
            # Schedule row first (lock order), then the compare-and-set on the reservation,
            # which alone decides: a release that a concurrent winner made moot rolls back.
            released = uow.schedules.release_seats(current.schedule_id, current.quantity)
            if not uow.reservations.try_transition(rid, current.status, target, now):
                uow.rollback()
                transition_target(action, _owned_reservation(uow, rid, None).status)
                raise TransientConflict("status changed under a held schedule lock")
            if not released:
                raise _drift(current.schedule_id)
            uow.commit()
            return dataclasses.replace(current, status=target, updated_at=now)

        result: Reservation = yield Step(use_case)
        return result

    def get_reservation(self, reservation_id: object, user_id: object) -> Plan[Reservation]:
        rid = check_id("reservation_id", reservation_id)
        owner = check_optional_id("user_id", user_id)
        result: Reservation = yield Step(lambda uow: _owned_reservation(uow, rid, owner))
        return result

    def list_reservations(
        self,
        schedule_id: object,
        user_id: object,
        status: object,
        limit: object,
        after: object,
    ) -> Plan[ReservationPage]:
        sid = check_optional_id("schedule_id", schedule_id)
        uid = check_optional_id("user_id", user_id)
        if sid is None and uid is None:
            raise invalid("schedule_id", "schedule_id or user_id is required", None)
        wanted = check_status(status)
        size = check_count("limit", limit, minimum=1, maximum=MAX_PAGE_SIZE)
        position = decode_cursor(after)

        def use_case(uow: AbstractUnitOfWork) -> ReservationPage:
            found = uow.reservations.page(
                schedule_id=sid, user_id=uid, status=wanted, after=position, limit=size + 1
            )
            items = tuple(found[:size])
            more = len(found) > size
            return ReservationPage(items, encode_cursor(items[-1]) if more else None)

        result: ReservationPage = yield Step(use_case)
        return result

    def release_expired_holds(self) -> Plan[int]:
        lapsed: list[str] = yield Step(
            lambda uow: uow.reservations.schedules_with_expired_holds(self._now())
        )
        expired = 0
        for schedule_id in lapsed:

            def sweep(uow: AbstractUnitOfWork, schedule_id: str = schedule_id) -> int:
                count = _expire_holds(uow, schedule_id, self._now())
                uow.commit()
                return count

            swept: int = yield Step(sweep)
            expired += swept
        return expired

    def purge_expired_idempotency_keys(self) -> Plan[int]:
        def use_case(uow: AbstractUnitOfWork) -> int:
            count = uow.idempotency_keys.purge(self._now() - self._idempotency_ttl)
            uow.commit()
            return count

        result: int = yield Step(use_case)
        return result

    # -- events ----------------------------------------------------------------------------

    def claim_events(
        self, consumer: object, limit: object, lease: object
    ) -> Plan[list[ReservationEvent]]:
        name = check_id("consumer", consumer)
        size = check_batch("limit", limit)
        duration = check_duration("lease", lease, maximum=MAX_IDEMPOTENCY_TTL)

        def use_case(uow: AbstractUnitOfWork) -> list[ReservationEvent]:
            now = self._now()
            claimed = uow.events.claim(name, size, now, now - duration)
            uow.commit()
            return claimed

        result: list[ReservationEvent] = yield Step(use_case)
        return result

    def ack_events(self, consumer: object, event_ids: Iterable[int]) -> Plan[int]:
        name = check_id("consumer", consumer)
        ids = check_event_ids("event_ids", event_ids)

        def use_case(uow: AbstractUnitOfWork) -> int:
            count = uow.events.ack(name, ids, self._now())
            uow.commit()
            return count

        result: int = yield Step(use_case)
        return result

    def purge_events(self, older_than: object) -> Plan[int]:
        duration = check_duration("older_than", older_than, maximum=MAX_IDEMPOTENCY_TTL)

        def use_case(uow: AbstractUnitOfWork) -> int:
            count = uow.events.purge(self._now() - duration)
            uow.commit()
            return count

        result: int = yield Step(use_case)
        return result

    # -- internals -------------------------------------------------------------------------

    def _book(
        self,
        schedule_id: object,
        user_id: object,
        quantity: object,
        idempotency_key: object,
        *,
        hold_for: timedelta | None,
    ) -> Plan[Reservation]:
        """A booking (``hold_for is None``) or a hold (``hold_for`` already checked)."""
        sid = check_id("schedule_id", schedule_id)
        uid = check_id("user_id", user_id)
        seats = check_count("quantity", quantity, minimum=1)
        key = check_optional_id("idempotency_key", idempotency_key)

        def attempt(uow: AbstractUnitOfWork, last: bool) -> Reservation | None:
            now = self._now()
            reservation = Reservation(
                id=str(uuid.uuid4()),
                schedule_id=sid,
                user_id=uid,
                quantity=seats,
                status=ReservationStatus.CONFIRMED if hold_for is None else ReservationStatus.HELD,
                created_at=now,
                updated_at=now,
                expires_at=None
                if hold_for is None
                else check_instant_after("hold_for", now, hold_for),
            )
            if key is not None:
                fingerprint = _fingerprint(sid, seats, hold=hold_for is not None)
                record = IdempotencyRecord(uid, key, fingerprint, reservation.id, now)
                replayed = self._replay_or_store(uow, record, sid)
                if replayed is not None:
                    return replayed
            try:
                booked = uow.add_reservation_and_commit(reservation)
                # Short of seats: the schedule's lapsed holds go first, in this transaction
                # (the schedule row is the first lock either way), then one more try.
                if not booked and _expire_holds(uow, sid, now):
                    booked = uow.add_reservation_and_commit(reservation)
            except DuplicateReservationError:
                uow.rollback()
                existing = uow.reservations.find_active(sid, uid)
                if existing is None:  # it was cancelled since: a fresh attempt may succeed
                    raise TransientConflict("duplicate reservation vanished") from None
                if last or not _lapsed(existing, now):
                    raise _duplicate(existing) from None
                # The user's own lapsed hold blocks them: expire it, then book again.
                _expire_holds(uow, sid, now)
                uow.commit()
                return None
            if not booked:  # rolls back, with any holds it expired: the next booking will
                raise _refusal(uow, sid, uid, seats)
            return reservation

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            return attempt(uow, last=False) or _require(attempt(uow, last=True))

        plain = hold_for is None and key is None
        result: Reservation = yield Step(use_case, sid, (uid, seats) if plain else None)
        return result

    def book_group(
        self, members: list[tuple[str, str, int]]
    ) -> Callable[[AbstractUnitOfWork], list[Reservation | None]]:
        """A use case booking ``members`` together, on one schedule or several.

        ``members`` are ``(schedule_id, user_id, quantity)``, in arrival order.
        Its result has each member's reservation, or ``None`` for one the group did not
        book (too few seats, or an active reservation of the user): that one is booked
        alone, through the plain use case, which refuses it or books it exactly as if it
        had come by itself.
        """

        def use_case(uow: AbstractUnitOfWork) -> list[Reservation | None]:
            now = self._now()
            group = [
                Reservation(
                    id=str(uuid.uuid4()),
                    schedule_id=schedule_id,
                    user_id=user_id,
                    quantity=quantity,
                    status=ReservationStatus.CONFIRMED,
                    created_at=now,
                    updated_at=now,
                )
                for schedule_id, user_id, quantity in members
            ]
            booked = uow.add_group_and_commit(group)
            return [r if ok else None for r, ok in zip(group, booked, strict=True)]

        return use_case

    def _replay_or_store(
        self, uow: AbstractUnitOfWork, record: IdempotencyRecord, schedule_id: str
    ) -> Reservation | None:
        """The reservation a stored key stands for, or ``None`` once ``record`` is stored.

        The key is stored before the seats are taken: a concurrent request with the same
        key waits on the key's row, without holding the schedule's row lock, then replays.
        """
        stored = uow.idempotency_keys.get(record.user_id, record.key)
        if stored is None:
            uow.idempotency_keys.add(record)
            return None
        if stored.created_at < record.created_at - self._idempotency_ttl:  # as purge() decides
            uow.idempotency_keys.replace(stored, record)
            return None
        if stored.fingerprint != record.fingerprint:
            _existing_schedule(uow, schedule_id)  # "not found" outranks key reuse
            raise BusinessException(
                ErrorCode.IDEMPOTENCY_KEY_REUSED, details={"idempotency_key": record.key}
            )
        reservation = uow.reservations.get(stored.reservation_id)
        if reservation is None:  # pragma: no cover - the key and reservation commit together
            raise TransientConflict("idempotency key without its reservation")
        return reservation

    def _now(self) -> datetime:
        """The clock's time in UTC; a clock that breaks its promise is ``VALIDATION_ERROR``.

        The clock is an argument of the service, so a bad reading is reported as one,
        naming the field ``clock``, before anything is written.
        """
        return utc_clock_reading(self._clock())
