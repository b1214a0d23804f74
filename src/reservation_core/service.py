"""ReservationService: the use cases, each one unit of work, retried on transient conflicts."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from reservation_core._admission import Admission
from reservation_core._observing import Observer, observed
from reservation_core._pages import MAX_PAGE_SIZE, check_status, decode_cursor, encode_cursor
from reservation_core._retry import run_in_unit_of_work
from reservation_core._validation import (
    MAX_IDEMPOTENCY_TTL,
    check_batch,
    check_count,
    check_duration,
    check_event_ids,
    check_id,
    check_instant_after,
    check_optional_id,
    check_service_options,
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
from reservation_core.instrumentation import Hooks
from reservation_core.ports import (
    AbstractUnitOfWork,
    DuplicateReservationError,
    IdempotencyRecord,
    TransientConflict,
)

__all__ = ["ReservationService"]

_log = logging.getLogger("reservation_core.service")

T = TypeVar("T")
UnitOfWorkFactory = Callable[[], AbstractUnitOfWork]


def _utc_now() -> datetime:
    return datetime.now(UTC)


#: The longest ``hold_for``: far below what a ``datetime`` can add without overflow.
MAX_HOLD = timedelta(days=365)
_DEFAULT_HOLD = timedelta(minutes=10)


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


def _checked_hold_for(
    schedule_id: object, user_id: object, quantity: object, hold_for: object
) -> timedelta:
    """``hold_for``, checked after the arguments before it (in signature order)."""
    check_id("schedule_id", schedule_id)
    check_id("user_id", user_id)
    check_count("quantity", quantity, minimum=1)
    return check_duration("hold_for", hold_for, maximum=MAX_HOLD)


def _require(reservation: Reservation | None) -> Reservation:
    if reservation is None:  # pragma: no cover - the last attempt returns or raises
        raise TransientConflict("booking made no progress")
    return reservation


class ReservationService:
    """The reservation use cases over a unit of work; one instance serves all threads.

    Args:
        uow_factory: a zero-argument callable returning a fresh unit of work, for example
            ``lambda: SqlAlchemyUnitOfWork(engine)``.
        clock: returns the current time as a timezone-aware ``datetime`` (from 1970 to
            8999). A reading that breaks this fails the use case with ``VALIDATION_ERROR``
            naming the field ``clock``, before anything is written.
        max_attempts: how many times a use case runs before a transient conflict becomes
            ``CONCURRENCY_CONFLICT`` (or a lost connection ``STORAGE_UNAVAILABLE``).
        retry_backoff: the base of the jittered exponential backoff between attempts, in
            seconds: a finite number from 0 to 60.
        idempotency_ttl: how long an idempotency key is remembered: a positive
            ``timedelta`` of at most 36,500 days.
        max_concurrent_per_schedule: how many ``create_reservation`` calls on one schedule
            may be at the database at once, from this service instance; the others wait
            in the process, in turn. Bookings on one schedule serialize on its row lock
            anyway: queueing them here keeps throughput from collapsing as threads grow
            (see docs/performance.md). ``None`` lets every call through. Per service
            instance: share one instance among a process's threads, as intended.
        hooks: :class:`~reservation_core.instrumentation.Hooks` told of every call, retry
            and outcome (metrics, traces; see docs/operations.md), one or a sequence.

    Raises:
        TypeError, ValueError: at construction, for an argument of the wrong type or out of
            range (a wiring mistake, found before the service serves anything).

    Every method raises :class:`~reservation_core.BusinessException` and nothing else.

    Examples:
        >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
        >>> store = InMemoryStore()
        >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
        >>> service.create_schedule("yoga-monday", capacity=10).remaining
        10
        >>> service.create_reservation("yoga-monday", "alice", quantity=2).status
        <ReservationStatus.CONFIRMED: 'CONFIRMED'>
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        clock: Callable[[], datetime] = _utc_now,
        max_attempts: int = 10,
        retry_backoff: float = 0.002,
        idempotency_ttl: timedelta = timedelta(hours=24),
        max_concurrent_per_schedule: int | None = 2,
        hooks: Hooks | Sequence[Hooks] | None = None,
    ) -> None:
        check_service_options(
            uow_factory=uow_factory,
            clock=clock,
            max_attempts=max_attempts,
            retry_backoff=retry_backoff,
            idempotency_ttl=idempotency_ttl,
            max_concurrent_per_schedule=max_concurrent_per_schedule,
        )
        self._uow_factory = uow_factory
        self._clock = clock
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._idempotency_ttl = idempotency_ttl
        self._admission = (
            None if max_concurrent_per_schedule is None else Admission(max_concurrent_per_schedule)
        )
        self._observer = Observer(hooks)

    # -- schedules -------------------------------------------------------------------------

    @observed
    def create_schedule(self, schedule_id: str, capacity: int) -> Schedule:
        """Create a schedule with ``capacity`` seats, none reserved.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``SCHEDULE_ALREADY_EXISTS``.
        """
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

        return self._run(use_case)

    @observed
    def get_schedule(self, schedule_id: str) -> Schedule:
        """The schedule as it is now.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``SCHEDULE_NOT_FOUND``.
        """
        check_id("schedule_id", schedule_id)
        return self._run(lambda uow: self._existing_schedule(uow, schedule_id))

    @observed
    def change_capacity(self, schedule_id: str, capacity: int) -> Schedule:
        """Set a schedule's capacity; it may not fall below the seats already reserved.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``SCHEDULE_NOT_FOUND``,
                ``CAPACITY_BELOW_RESERVED``.
        """
        check_id("schedule_id", schedule_id)
        check_count("capacity", capacity, minimum=0)

        def use_case(uow: AbstractUnitOfWork) -> Schedule:
            changed = uow.schedules.set_capacity(schedule_id, capacity)
            schedule = self._existing_schedule(uow, schedule_id)
            if not changed:
                raise BusinessException(
                    ErrorCode.CAPACITY_BELOW_RESERVED,
                    details={"capacity": capacity, "reserved": schedule.reserved},
                )
            uow.commit()
            return schedule

        return self._run(use_case)

    # -- reservations ----------------------------------------------------------------------

    @observed
    def create_reservation(
        self,
        schedule_id: str,
        user_id: str,
        *,
        quantity: int = 1,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """Reserve ``quantity`` seats of a schedule for a user; the result is ``CONFIRMED``.

        With an ``idempotency_key``, repeating the same request (same user, schedule and
        quantity) returns the reservation the first one made, as it is now, and takes no
        further seat; a concurrent repeat waits for the first and does the same.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``SCHEDULE_NOT_FOUND``,
                ``IDEMPOTENCY_KEY_REUSED`` (the key was used for another request),
                ``DUPLICATE_RESERVATION`` (the user has an active, held or confirmed, one
                there; details name it),
                ``CAPACITY_EXCEEDED`` (details: requested, remaining).
        """
        return self._book(schedule_id, user_id, quantity, idempotency_key, hold_for=None)

    @observed
    def hold_reservation(
        self,
        schedule_id: str,
        user_id: str,
        *,
        quantity: int = 1,
        hold_for: timedelta = _DEFAULT_HOLD,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """Hold ``quantity`` seats for a user until ``now + hold_for``; the result is ``HELD``.

        A hold takes its seats at once, like a booking, and keeps them until it is
        confirmed (:meth:`confirm_reservation`), cancelled, or expires: after
        ``expires_at`` it no longer blocks anyone (:meth:`release_expired_holds`, or the
        next booking that finds the schedule short, returns its seats). Idempotency keys
        work as for :meth:`create_reservation`; a hold and a booking under one key are
        different requests.

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (``hold_for`` must be a positive
                ``timedelta`` of at most 365 days), ``SCHEDULE_NOT_FOUND``,
                ``IDEMPOTENCY_KEY_REUSED``, ``DUPLICATE_RESERVATION`` (the user has an
                active reservation there), ``CAPACITY_EXCEEDED``.

        Examples:
            >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
            >>> store = InMemoryStore()
            >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
            >>> _ = service.create_schedule("tour", capacity=2)
            >>> hold = service.hold_reservation("tour", "ann", hold_for=timedelta(minutes=5))
            >>> hold.status, hold.expires_at - hold.created_at
            (<ReservationStatus.HELD: 'HELD'>, datetime.timedelta(seconds=300))
            >>> service.confirm_reservation(hold.id).status
            <ReservationStatus.CONFIRMED: 'CONFIRMED'>
        """
        return self._book(
            schedule_id,
            user_id,
            quantity,
            idempotency_key,
            hold_for=_checked_hold_for(schedule_id, user_id, quantity, hold_for),
        )

    @observed
    def confirm_reservation(
        self, reservation_id: str, *, user_id: str | None = None
    ) -> Reservation:
        """Confirm a hold before it expires: ``HELD → CONFIRMED``, the seats stay taken.

        Confirming a ``CONFIRMED`` reservation returns it unchanged (payment webhooks
        repeat). A hold past its ``expires_at`` is refused with ``HOLD_EXPIRED`` and
        becomes ``EXPIRED``, its seats returned; that change is committed although the
        call raises. ``user_id``, when given, must own the reservation.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``,
                ``HOLD_EXPIRED`` (410), ``INVALID_STATE_TRANSITION`` (cancelled or refunded).
        """
        check_id("reservation_id", reservation_id)
        check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            current = self._owned_reservation(uow, reservation_id, user_id)
            self._confirmable(current)
            if current.status is ReservationStatus.CONFIRMED:
                return current
            now = self._now()
            if uow.reservations.confirm_hold(reservation_id, now):
                uow.commit()
                return dataclasses.replace(
                    current, status=ReservationStatus.CONFIRMED, updated_at=now
                )
            # Expired, or moved by a concurrent call: expire the schedule's lapsed holds
            # (schedule row first), commit that, and answer for the status as it is now.
            if self._expire_holds(uow, current.schedule_id, now):
                uow.commit()
            latest = self._owned_reservation(uow, reservation_id, None)
            if latest.status is ReservationStatus.HELD:
                raise TransientConflict("hold neither confirmed nor expired")
            return self._confirmable(latest)

        return self._run(use_case)

    @observed
    def cancel_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Reservation:
        """Cancel a ``HELD`` or ``CONFIRMED`` reservation; its seats return to the schedule.

        ``user_id``, when given, must own the reservation.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``,
                ``RESERVATION_ALREADY_CANCELLED``, ``INVALID_STATE_TRANSITION`` (refunded
                or expired).
        """
        return self._move(Action.CANCEL, reservation_id, user_id)

    @observed
    def refund_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Reservation:
        """Refund a ``CONFIRMED`` reservation; its seats return to the schedule.

        ``user_id``, when given, must own the reservation.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``,
                ``ALREADY_REFUNDED``, ``INVALID_STATE_TRANSITION`` (cancelled, held or
                expired: only a confirmed reservation is refunded).
        """
        return self._move(Action.REFUND, reservation_id, user_id)

    @observed
    def get_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Reservation:
        """The reservation as it is now; ``user_id``, when given, must own it.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``.
        """
        check_id("reservation_id", reservation_id)
        check_optional_id("user_id", user_id)
        return self._run(lambda uow: self._owned_reservation(uow, reservation_id, user_id))

    @observed
    def list_reservations(
        self,
        *,
        schedule_id: str | None = None,
        user_id: str | None = None,
        status: ReservationStatus | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> ReservationPage:
        """A page of reservations of a schedule, of a user, or of a user on a schedule.

        Items come in ``(created_at, id)`` order. Keyset pagination: pass the page's
        ``next_cursor`` as ``after`` for the next one (``None`` on the last page); pages
        stay consistent while reservations are added, and each costs an index range scan,
        however deep. ``status`` narrows to one status.

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (neither ``schedule_id`` nor
                ``user_id`` given; ``limit`` outside ``1..1000``; ``after`` not a cursor
                from this method; ``status`` not a :class:`ReservationStatus`).

        Examples:
            >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
            >>> store = InMemoryStore()
            >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
            >>> _ = service.create_schedule("tour", capacity=5)
            >>> for user in ("ann", "bob", "cy"):
            ...     _ = service.create_reservation("tour", user)
            >>> page = service.list_reservations(schedule_id="tour", limit=2)
            >>> [r.user_id for r in page.items]
            ['ann', 'bob']
            >>> rest = service.list_reservations(schedule_id="tour", after=page.next_cursor)
            >>> [r.user_id for r in rest.items], rest.next_cursor
            (['cy'], None)
        """
        check_optional_id("schedule_id", schedule_id)
        check_optional_id("user_id", user_id)
        if schedule_id is None and user_id is None:
            raise invalid("schedule_id", "schedule_id or user_id is required", None)
        wanted = check_status(status)
        check_count("limit", limit, minimum=1, maximum=MAX_PAGE_SIZE)
        position = decode_cursor(after)

        def use_case(uow: AbstractUnitOfWork) -> ReservationPage:
            found = uow.reservations.page(
                schedule_id=schedule_id,
                user_id=user_id,
                status=wanted,
                after=position,
                limit=limit + 1,
            )
            items = tuple(found[:limit])
            more = len(found) > limit
            return ReservationPage(items, encode_cursor(items[-1]) if more else None)

        return self._run(use_case)

    @observed
    def release_expired_holds(self) -> int:
        """Expire every hold past its ``expires_at`` and return its seats; how many expired.

        A sweeper for a periodic job. Not needed for correctness: a booking or hold that
        finds a schedule short of seats releases that schedule's lapsed holds first, and
        confirming a lapsed hold expires it. Each schedule is swept in a transaction of
        its own, so the schedule's row lock is held briefly.

        Raises:
            BusinessException: ``STORAGE_UNAVAILABLE``, ``CONCURRENCY_CONFLICT``.
        """
        lapsed = self._run(lambda uow: uow.reservations.schedules_with_expired_holds(self._now()))
        expired = 0
        for schedule_id in lapsed:

            def sweep(uow: AbstractUnitOfWork, schedule_id: str = schedule_id) -> int:
                count = self._expire_holds(uow, schedule_id, self._now())
                uow.commit()
                return count

            expired += self._run(sweep)
        return expired

    @observed
    def purge_expired_idempotency_keys(self) -> int:
        """Delete idempotency keys older than the TTL; returns how many were deleted."""

        def use_case(uow: AbstractUnitOfWork) -> int:
            count = uow.idempotency_keys.purge(self._now() - self._idempotency_ttl)
            uow.commit()
            return count

        return self._run(use_case)

    # -- events ----------------------------------------------------------------------------

    @observed
    def claim_events(
        self, consumer: str, *, limit: int = 100, lease: timedelta = timedelta(seconds=30)
    ) -> list[ReservationEvent]:
        """Lease to ``consumer`` up to ``limit`` events it has not acknowledged, oldest first.

        Every reservation change has exactly one event, written in the change's own
        transaction (see :class:`~reservation_core.ReservationEvent`). Each consumer — a
        name of your choosing, one per purpose ("refunds", "emails") — gets every event
        at least once: an event claimed and not acknowledged (:meth:`ack_events`) within
        ``lease`` is claimed again, by any process of the same consumer. Processes of one
        consumer share the work: their claims are serialized and never overlap while a
        lease runs. Handle each event idempotently, keyed by ``event.id``.

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (``consumer`` an id, ``limit`` in
                ``1..10000``, ``lease`` a positive ``timedelta``).
        """
        check_id("consumer", consumer)
        check_batch("limit", limit)
        check_duration("lease", lease, maximum=MAX_IDEMPOTENCY_TTL)

        def use_case(uow: AbstractUnitOfWork) -> list[ReservationEvent]:
            now = self._now()
            claimed = uow.events.claim(consumer, limit, now, now - lease)
            uow.commit()
            return claimed

        return self._run(use_case)

    @observed
    def ack_events(self, consumer: str, event_ids: Iterable[int]) -> int:
        """Record events as handled by ``consumer``; they are never claimed by it again.

        Returns how many were newly acknowledged (an id acknowledged before, or never
        claimed by the consumer, counts for nothing).

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (``event_ids`` positive integers, at
                most 10,000).
        """
        check_id("consumer", consumer)
        ids = check_event_ids("event_ids", event_ids)

        def use_case(uow: AbstractUnitOfWork) -> int:
            count = uow.events.ack(consumer, ids, self._now())
            uow.commit()
            return count

        return self._run(use_case)

    @observed
    def purge_events(self, older_than: timedelta) -> int:
        """Delete the events (and their deliveries) older than ``older_than``.

        Whether or not every consumer has acknowledged them: choose a retention longer
        than any consumer may lag. Returns how many events were deleted.

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (a positive ``timedelta``).
        """
        check_duration("older_than", older_than, maximum=MAX_IDEMPOTENCY_TTL)

        def use_case(uow: AbstractUnitOfWork) -> int:
            count = uow.events.purge(self._now() - older_than)
            uow.commit()
            return count

        return self._run(use_case)

    # -- internals -------------------------------------------------------------------------

    def _move(self, action: Action, reservation_id: str, user_id: str | None) -> Reservation:
        check_id("reservation_id", reservation_id)
        check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            current = self._owned_reservation(uow, reservation_id, user_id)
            target = transition_target(action, current.status)
            now = self._now()
            # Schedule row first (lock order), then the compare-and-set on the reservation,
            # which alone decides: a release that a concurrent winner made moot rolls back.
            released = uow.schedules.release_seats(current.schedule_id, current.quantity)
            if not uow.reservations.try_transition(reservation_id, current.status, target, now):
                uow.rollback()
                transition_target(action, self._owned_reservation(uow, reservation_id, None).status)
                raise TransientConflict("status changed under a held schedule lock")
            if not released:
                raise _drift(current.schedule_id)
            uow.commit()
            return dataclasses.replace(current, status=target, updated_at=now)

        return self._run(use_case)

    def _book(
        self,
        schedule_id: str,
        user_id: str,
        quantity: int,
        idempotency_key: str | None,
        *,
        hold_for: timedelta | None,
    ) -> Reservation:
        """A booking (``hold_for is None``) or a hold (``hold_for`` already checked)."""
        check_id("schedule_id", schedule_id)
        check_id("user_id", user_id)
        check_count("quantity", quantity, minimum=1)
        check_optional_id("idempotency_key", idempotency_key)
        fingerprint = _fingerprint(schedule_id, quantity, hold=hold_for is not None)

        def attempt(uow: AbstractUnitOfWork, last: bool) -> Reservation | None:
            now = self._now()
            reservation = Reservation(
                id=str(uuid.uuid4()),
                schedule_id=schedule_id,
                user_id=user_id,
                quantity=quantity,
                status=ReservationStatus.CONFIRMED if hold_for is None else ReservationStatus.HELD,
                created_at=now,
                updated_at=now,
                expires_at=None
                if hold_for is None
                else check_instant_after("hold_for", now, hold_for),
            )
            if idempotency_key is not None:
                record = IdempotencyRecord(
                    user_id, idempotency_key, fingerprint, reservation.id, now
                )
                replayed = self._replay_or_store(uow, record, schedule_id)
                if replayed is not None:
                    return replayed
            try:
                booked = uow.add_reservation_and_commit(reservation)
                # Short of seats: the schedule's lapsed holds go first, in this transaction
                # (the schedule row is the first lock either way), then one more try.
                if not booked and self._expire_holds(uow, schedule_id, now):
                    booked = uow.add_reservation_and_commit(reservation)
            except DuplicateReservationError:
                uow.rollback()
                existing = uow.reservations.find_active(schedule_id, user_id)
                if existing is None:  # it was cancelled since: a fresh attempt may succeed
                    raise TransientConflict("duplicate reservation vanished") from None
                if last or not _lapsed(existing, now):
                    raise _duplicate(existing) from None
                # The user's own lapsed hold blocks them: expire it, then book again.
                self._expire_holds(uow, schedule_id, now)
                uow.commit()
                return None
            if not booked:  # rolls back, with any holds it expired: the next booking will
                raise self._refusal(uow, schedule_id, user_id, quantity)
            return reservation

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            return attempt(uow, last=False) or _require(attempt(uow, last=True))

        return self._run(use_case, schedule_id)

    def _expire_holds(self, uow: AbstractUnitOfWork, schedule_id: str, now: datetime) -> int:
        """Expire the schedule's lapsed holds in the unit of work; how many (uncommitted)."""
        expired = uow.reservations.expire_holds(schedule_id, now)
        if expired is None:
            raise _drift(schedule_id)
        return expired

    @staticmethod
    def _confirmable(reservation: Reservation) -> Reservation:
        """``reservation`` if confirm may proceed; else the error the state machine names."""
        try:
            transition_target(Action.CONFIRM, reservation.status)
        except BusinessException as exc:
            if exc.code is ErrorCode.HOLD_EXPIRED:
                exc.details.update(_hold_details(reservation))
            raise
        return reservation

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
            self._existing_schedule(uow, schedule_id)  # "not found" outranks key reuse
            raise BusinessException(
                ErrorCode.IDEMPOTENCY_KEY_REUSED, details={"idempotency_key": record.key}
            )
        reservation = uow.reservations.get(stored.reservation_id)
        if reservation is None:  # pragma: no cover - the key and reservation commit together
            raise TransientConflict("idempotency key without its reservation")
        return reservation

    def _refusal(
        self, uow: AbstractUnitOfWork, schedule_id: str, user_id: str, quantity: int
    ) -> BusinessException:
        schedule = self._existing_schedule(uow, schedule_id)
        existing = uow.reservations.find_active(schedule_id, user_id)
        if existing is not None:  # "duplicate" outranks "capacity"
            return _duplicate(existing)
        return BusinessException(
            ErrorCode.CAPACITY_EXCEEDED,
            details={"requested": quantity, "remaining": schedule.remaining},
        )

    @staticmethod
    def _existing_schedule(uow: AbstractUnitOfWork, schedule_id: str) -> Schedule:
        schedule = uow.schedules.get(schedule_id)
        if schedule is None:
            raise BusinessException(
                ErrorCode.SCHEDULE_NOT_FOUND, details={"schedule_id": schedule_id}
            )
        return schedule

    @staticmethod
    def _owned_reservation(
        uow: AbstractUnitOfWork, reservation_id: str, user_id: str | None
    ) -> Reservation:
        reservation = uow.reservations.get(reservation_id)
        if reservation is None or (user_id is not None and reservation.user_id != user_id):
            raise BusinessException(
                ErrorCode.RESERVATION_NOT_FOUND, details={"reservation_id": reservation_id}
            )
        return reservation

    def _now(self) -> datetime:
        """The clock's time in UTC; a clock that breaks its promise is ``VALIDATION_ERROR``.

        The clock is an argument of the service, so a bad reading is reported as one,
        naming the field ``clock``, before anything is written.
        """
        return utc_clock_reading(self._clock())

    def _run(self, use_case: Callable[[AbstractUnitOfWork], T], booking: str | None = None) -> T:
        """Run ``use_case`` in a fresh unit of work, again on transient failures.

        ``booking`` names the schedule a booking use case takes seats on, for admission.
        """
        admission = self._admission
        return run_in_unit_of_work(
            self._uow_factory,
            use_case,
            max_attempts=self._max_attempts,
            backoff=self._retry_backoff,
            admitted=(
                contextlib.nullcontext
                if admission is None or booking is None
                else functools.partial(admission.admitted, booking)
            ),
            on_retry=self._observer.retried,
        )
