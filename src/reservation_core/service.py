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
from reservation_core._retry import run_in_unit_of_work
from reservation_core._validation import (
    check_batch,
    check_count,
    check_duration,
    check_event_ids,
    check_id,
    check_optional_id,
    check_service_options,
    utc_clock_reading,
)
from reservation_core.domain import (
    Action,
    Reservation,
    ReservationEvent,
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


def _fingerprint(schedule_id: str, quantity: int) -> str:
    return hashlib.sha256(f"{schedule_id}\x00{quantity}".encode()).hexdigest()


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
                ``DUPLICATE_RESERVATION`` (the user holds a confirmed one; details name it),
                ``CAPACITY_EXCEEDED`` (details: requested, remaining).
        """
        check_id("schedule_id", schedule_id)
        check_id("user_id", user_id)
        check_count("quantity", quantity, minimum=1)
        check_optional_id("idempotency_key", idempotency_key)
        fingerprint = _fingerprint(schedule_id, quantity)

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            now = self._now()
            reservation = Reservation(
                id=str(uuid.uuid4()),
                schedule_id=schedule_id,
                user_id=user_id,
                quantity=quantity,
                status=ReservationStatus.CONFIRMED,
                created_at=now,
                updated_at=now,
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
            except DuplicateReservationError:
                uow.rollback()
                raise self._duplicate(uow, schedule_id, user_id) from None
            if not booked:
                raise self._refusal(uow, schedule_id, user_id, quantity)
            return reservation

        return self._run(use_case, schedule_id)

    @observed
    def cancel_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Reservation:
        """Cancel a ``CONFIRMED`` reservation; its seats return to the schedule.

        ``user_id``, when given, must own the reservation.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``,
                ``RESERVATION_ALREADY_CANCELLED``, ``INVALID_STATE_TRANSITION`` (refunded).
        """
        return self._move(Action.CANCEL, reservation_id, user_id)

    @observed
    def refund_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Reservation:
        """Refund a ``CONFIRMED`` reservation; its seats return to the schedule.

        ``user_id``, when given, must own the reservation.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``,
                ``ALREADY_REFUNDED``, ``INVALID_STATE_TRANSITION`` (cancelled).
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
        check_duration("lease", lease)

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
        check_duration("older_than", older_than)

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
            if not uow.reservations.try_transition(
                reservation_id, ReservationStatus.CONFIRMED, target, now
            ):
                uow.rollback()
                transition_target(action, self._owned_reservation(uow, reservation_id, None).status)
                raise TransientConflict("status changed under a held schedule lock")
            if not released:
                _log.warning(
                    "seat count drift on schedule %s: fewer seats reserved than its "
                    "reservations hold; repair it with an audit",
                    current.schedule_id,
                    extra={"schedule_id": current.schedule_id},
                )
                raise BusinessException(
                    ErrorCode.STORAGE_UNAVAILABLE,
                    "The schedule's stored seat count is below its confirmed reservations; "
                    "repair it with an audit.",
                    details={"reason": "seat_count_drift", "schedule_id": current.schedule_id},
                )
            uow.commit()
            return dataclasses.replace(current, status=target, updated_at=now)

        return self._run(use_case)

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

    def _duplicate(
        self, uow: AbstractUnitOfWork, schedule_id: str, user_id: str
    ) -> BusinessException:
        existing = uow.reservations.find_confirmed(schedule_id, user_id)
        if existing is None:  # it was cancelled since: a fresh attempt may succeed
            raise TransientConflict("duplicate reservation vanished")
        return BusinessException(
            ErrorCode.DUPLICATE_RESERVATION, details={"reservation_id": existing.id}
        )

    def _refusal(
        self, uow: AbstractUnitOfWork, schedule_id: str, user_id: str, quantity: int
    ) -> BusinessException:
        schedule = self._existing_schedule(uow, schedule_id)
        existing = uow.reservations.find_confirmed(schedule_id, user_id)
        if existing is not None:  # "duplicate" outranks "capacity"
            return BusinessException(
                ErrorCode.DUPLICATE_RESERVATION, details={"reservation_id": existing.id}
            )
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
