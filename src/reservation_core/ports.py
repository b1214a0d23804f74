"""What the service needs from storage: a unit of work and three repositories.

Adapter authors implement these; callers of the library never need them. Every
check-and-write the service relies on is a single repository call, so that a SQL adapter
can make it one conditional statement under the row lock (no load-mutate-save round trip):

* :meth:`ReservationRepository.add` takes the seats *and* records the reservation,
  atomically, or does neither;
* :meth:`ReservationRepository.try_transition` is a compare-and-set on the status,
  :meth:`ReservationRepository.confirm_hold` one that also needs the hold unexpired;
* :meth:`ReservationRepository.expire_holds` expires a schedule's lapsed holds and
  returns their seats, under the schedule's lock;
* :meth:`ScheduleRepository.set_capacity` refuses, atomically, a capacity under ``reserved``.

Lock order: every write path locks seat counters (schedule rows, a schedule's pools
included) before any reservation row, and several counters in the order of their ids
(:meth:`ScheduleRepository.lock`; ``add`` and ``expire_holds`` do so internally,
cancel/refund call :meth:`ScheduleRepository.release_seats` before
:meth:`ReservationRepository.try_transition`), so use cases cannot deadlock each other.
``confirm_hold`` changes no seats and takes the reservation row's lock alone.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self, TypeVar

from reservation_core.domain import Reservation, ReservationEvent, ReservationStatus, Schedule
from reservation_core.domain._waitlist import WaitlistEntry, WaitlistStatus

T = TypeVar("T")

__all__ = [
    "AbstractAsyncUnitOfWork",
    "AbstractUnitOfWork",
    "ConnectionLost",
    "DuplicateReservationError",
    "EventRepository",
    "IdempotencyKeyRepository",
    "IdempotencyKeyTaken",
    "IdempotencyRecord",
    "ReservationRepository",
    "ScheduleRepository",
    "TransientConflict",
    "WaitlistRepository",
]


class TransientConflict(Exception):
    """A conflict that a fresh attempt may not meet; the service retries the use case.

    Deadlocks, serialization failures, lock timeouts, a busy SQLite file.
    """


class IdempotencyKeyTaken(TransientConflict):
    """Another transaction stored the same (user, idempotency key) first: retrying reads it."""


class ConnectionLost(Exception):
    """The connection failed before anything was committed; a fresh attempt may succeed."""


class DuplicateReservationError(Exception):
    """The user already has an active (``HELD`` or ``CONFIRMED``) reservation on the schedule.

    The transaction may be unusable afterwards: the service rolls back before reading more.
    """


@dataclasses.dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What an idempotency key stands for: the request's fingerprint and its reservation.

    For an order, ``reservation_id`` holds the order's id.
    """

    user_id: str
    key: str
    fingerprint: str
    reservation_id: str
    created_at: datetime


class ScheduleRepository(Protocol):
    """Schedules, seen through the current unit of work."""

    def add(self, schedule: Schedule) -> bool:
        """Store a new schedule and its pools; ``False`` (and nothing stored) if the id exists.

        The caller has checked that each pool exists and has no pools of its own.
        """

    def get(self, schedule_id: str) -> Schedule | None:
        """The schedule as committed (or as this unit of work changed it), or ``None``."""

    def set_capacity(self, schedule_id: str, capacity: int) -> bool:
        """Set the capacity if the schedule exists and ``reserved <= capacity``, atomically."""

    def release_seats(self, schedule_id: str, quantity: int) -> int | None:
        """Return ``quantity`` seats to the schedule and each of its pools, atomically.

        Locks their rows (in the order of their ids) until the unit of work ends.
        Returns how many entries the schedule's waiting list holds (``waitlisted``: the
        caller offers them the seats), or ``None``, changing nothing, if any counter has
        fewer than ``quantity`` seats reserved (a concurrent release won, or the stored
        count drifted). A schedule without pools or waiting list takes one statement.
        """

    def move_waitlist(self, schedule_id: str, change: int) -> None:
        """Add ``change`` to the schedule's ``waitlisted`` count (its row locked first)."""

    def lock(self, schedule_ids: Sequence[str]) -> dict[str, Schedule]:
        """Lock the schedules and each one's pools, in the order of their ids; read them.

        Every path that locks several counters does it through this one call, so all of
        them take their locks in one global order. Returns every counter locked, by id (a
        schedule that does not exist is missing from it).
        """

    def move_seats(self, changes: dict[str, int]) -> None:
        """Add ``changes[id]`` (negative: return) to each counter's ``reserved``.

        The caller holds the counters' locks (:meth:`lock`) and has checked that every
        count stays within ``0..capacity``.
        """

    def page(self, after: str | None, limit: int) -> list[Schedule]:
        """Up to ``limit`` schedules with an id after ``after``, in the order of their ids."""


class ReservationRepository(Protocol):
    """Reservations, seen through the current unit of work."""

    def add(self, reservation: Reservation) -> bool:
        """Take ``reservation.quantity`` seats and store the reservation and its event.

        All three happen, atomically, or none.

        The reservation is ``CONFIRMED``, or ``HELD`` with its ``expires_at``. Returns
        ``False``, having changed nothing, when the schedule does not exist, has fewer
        seats left, or has pools (those are booked with :meth:`insert` under
        :meth:`ScheduleRepository.lock`: the fast paths of a plain booking never see
        pools). Raises :class:`DuplicateReservationError` when the user already has an
        active (``HELD`` or ``CONFIRMED``) reservation on the schedule.
        """

    def insert(self, reservations: Sequence[Reservation]) -> None:
        """Store reservations whose seats the caller took (:meth:`ScheduleRepository.move_seats`).

        With their events, in list order (an order's lines keep it). Raises
        :class:`DuplicateReservationError` if a user is already active on a schedule.
        """

    def set_quantity(
        self,
        reservation_id: str,
        status: ReservationStatus,
        from_quantity: int,
        to_quantity: int,
        at: datetime,
    ) -> bool:
        """Compare-and-set the quantity of a reservation in ``status``, with its event.

        The caller has moved the seats (under :meth:`ScheduleRepository.lock`). ``False``,
        writing nothing, if the reservation is no longer ``status`` with ``from_quantity``.
        """

    def active_users(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which ``(schedule_id, user_id)`` pairs have an active reservation."""

    def of_order(self, order_id: str) -> list[Reservation]:
        """The lines of an order, in the order given when it was made."""

    def get(self, reservation_id: str) -> Reservation | None:
        """The reservation, or ``None``."""

    def find_active(self, schedule_id: str, user_id: str) -> Reservation | None:
        """The user's ``HELD`` or ``CONFIRMED`` reservation on the schedule, if any."""

    def confirm_hold(self, reservation_id: str, at: datetime) -> bool:
        """Compare-and-set ``HELD`` to ``CONFIRMED`` where ``expires_at > at``.

        ``False``, changing nothing, if the reservation is not a hold unexpired at ``at``.
        """

    def extend_hold(self, reservation_id: str, at: datetime, expires_at: datetime) -> bool:
        """Compare-and-set a hold unexpired at ``at`` to ``expires_at``, appending its event.

        ``updated_at`` becomes ``at``. ``False``, changing nothing, if the reservation is
        not ``HELD`` with ``expires_at > at``.
        """

    def expire_holds(self, schedule_id: str, at: datetime, limit: int | None = None) -> int | None:
        """Move the schedule's holds with ``expires_at <= at`` to ``EXPIRED``; return seats.

        When there are any, locks the schedule's row and its pools' first (in the order of
        their ids), then compare-and-sets each hold and returns their seats to all of
        them, so a concurrent confirm or cancel of one of them wins or loses as a whole.
        ``limit`` bounds how many holds it takes (``None``: all of them).
        Returns how many holds expired, or ``None`` when the schedule's stored seat count
        is below what they held (drift: the caller rolls back).
        """

    def schedules_with_expired_holds(self, at: datetime, limit: int | None = None) -> list[str]:
        """The ids of schedules that have holds with ``expires_at <= at``, sorted.

        With ``limit``, those of at most ``limit`` such holds, the earliest to lapse first.
        """

    def page(
        self,
        *,
        schedule_id: str | None,
        user_id: str | None,
        status: ReservationStatus | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Reservation]:
        """Up to ``limit`` reservations matching the filters, in ``(created_at, id)`` order.

        ``after`` is the ``(created_at, id)`` of the last reservation already seen.
        """

    def try_transition(
        self,
        reservation_id: str,
        from_status: ReservationStatus,
        to_status: ReservationStatus,
        at: datetime,
    ) -> bool:
        """Compare-and-set the status, appending the move's event.

        ``False``, writing nothing, if the status was not ``from_status``.
        """


class WaitlistRepository(Protocol):
    """Waiting-list entries, seen through the current unit of work.

    An entry's moves are compare-and-sets on its status, each appending its event. Join
    order is the order entries were added.
    """

    def add(self, entry: WaitlistEntry, offer_for: timedelta) -> None:
        """Store a new ``WAITING`` entry at the end of its schedule's list, with its event.

        Raises :class:`DuplicateReservationError` if the user already has an entry
        ``WAITING`` or ``OFFERED`` on the schedule.
        """

    def get(self, entry_id: str) -> WaitlistEntry | None:
        """The entry (``position`` as of now), or ``None``."""

    def find_active(self, schedule_id: str, user_id: str) -> WaitlistEntry | None:
        """The user's ``WAITING`` or ``OFFERED`` entry on the schedule, if any."""

    def by_reservation(self, reservation_id: str) -> WaitlistEntry | None:
        """The entry whose offer is ``reservation_id``, if any."""

    def waiting(
        self, schedule_id: str, limit: int | None = None
    ) -> list[tuple[WaitlistEntry, timedelta]]:
        """The schedule's ``WAITING`` entries in join order, each with its ``offer_for``.

        With ``limit``, only the first ``limit`` of them (an index range, not the list).
        """

    def answered(self, schedule_id: str) -> list[WaitlistEntry]:
        """The schedule's ``OFFERED`` entries whose offer is no longer ``HELD``.

        Those that are still ``HELD`` (most, on a busy list) are not read.
        """

    def move(
        self,
        entry_id: str,
        from_status: WaitlistStatus,
        to_status: WaitlistStatus,
        at: datetime,
        reservation_id: str | None = None,
    ) -> bool:
        """Compare-and-set the entry's status (and its offer's reservation), with its event.

        ``False``, writing nothing, if the status was not ``from_status``.
        """


class IdempotencyKeyRepository(Protocol):
    """Stored idempotency keys, unique per (user_id, key)."""

    def get(self, user_id: str, key: str) -> IdempotencyRecord | None:
        """The record for the key, expired or not, or ``None``."""

    def add(self, record: IdempotencyRecord) -> None:
        """Store the record; raises :class:`IdempotencyKeyTaken` if the key exists."""

    def replace(self, stored: IdempotencyRecord, record: IdempotencyRecord) -> None:
        """Put ``record`` in place of ``stored``, an expired record of the same key.

        A compare-and-set: raises :class:`IdempotencyKeyTaken`, changing nothing, if the
        stored record is no longer ``stored`` (a concurrent request replaced it first), so
        that of several requests finding one expired record exactly one replaces it.
        """

    def purge(self, created_before: datetime) -> int:
        """Delete records created before the instant; returns how many."""

    def purge_batch(self, created_before: datetime, limit: int, skip_locked: bool = True) -> int:
        """Delete at most ``limit`` records created before the instant, oldest first.

        With ``skip_locked``, rows another transaction holds are skipped where the
        database can skip locked rows, so that several processes purge different
        batches; without, they are waited for. Returns how many.
        """


class EventRepository(Protocol):
    """The events of reservation changes, and each consumer's deliveries of them.

    A consumer (a name) claims events it has not acknowledged; a claim is leased, and
    events whose lease ran out unacknowledged are claimed again (at-least-once). Claims
    of one consumer are serialized; different consumers never wait on each other.
    """

    def claim(
        self, consumer: str, limit: int, now: datetime, lease_expired: datetime
    ) -> list[ReservationEvent]:
        """Lease to ``consumer`` up to ``limit`` events, oldest first, stamped ``now``.

        An event is claimable when the consumer never claimed it, or claimed it before
        ``lease_expired`` and never acknowledged it.
        """

    def ack(self, consumer: str, event_ids: list[int], now: datetime) -> int:
        """Record the events as delivered to ``consumer``; returns how many were newly."""

    def purge(self, occurred_before: datetime) -> int:
        """Delete events (and their deliveries) older than the instant; returns how many."""

    def purge_acknowledged(
        self, occurred_before: datetime, limit: int, after: int = 0, skip_locked: bool = True
    ) -> tuple[int, int]:
        """Delete at most ``limit`` acknowledged events older than the instant, id above ``after``.

        An event goes, with its deliveries, when every known consumer (every name that
        ever claimed) has acknowledged it; in id order. With no consumer known, every
        event older than the instant qualifies. ``skip_locked`` as for
        :meth:`IdempotencyKeyRepository.purge_batch`. Returns how many were deleted, and
        the highest id deleted (``after`` if none): the next batch starts there, so that
        no batch walks again over the rows earlier batches deleted.
        """


class AbstractUnitOfWork(abc.ABC):
    """One transaction over the repositories, used as a context manager.

    Leaving the ``with`` block rolls back whatever was not committed, so forgetting to
    commit, or an exception, writes nothing. After :meth:`rollback` the unit of work may
    go on in a new transaction.
    """

    schedules: ScheduleRepository
    reservations: ReservationRepository
    idempotency_keys: IdempotencyKeyRepository
    events: EventRepository
    waitlist: WaitlistRepository
    #: Whether the service may run the use case again in a fresh unit of work after a
    #: transient conflict. ``False`` for a unit of work inside the host's transaction,
    #: whose earlier statements the library cannot replay.
    retryable: bool = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.close()

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the work durable."""

    def add_reservation_and_commit(self, reservation: Reservation) -> bool:
        """:meth:`ReservationRepository.add`, then :meth:`commit` if seats were taken.

        Returns and raises what ``add`` does; ``False`` commits nothing. An adapter whose
        database can take the seats, store the reservation and commit in one atomic
        statement overrides this (the SQLAlchemy adapter on PostgreSQL, when nothing else
        was written in the unit of work yet).
        """
        booked = self.reservations.add(reservation)
        if booked:
            self.commit()
        return booked

    def add_group_and_commit(self, reservations: Sequence[Reservation]) -> list[bool]:
        """Book ``reservations``, on one schedule or several, in arrival order; commit; which were.

        Each is booked as :meth:`ReservationRepository.add` would book it alone, in list
        order, in this one transaction: ``False`` for one that finds too few seats left or
        whose user already has an active reservation on its schedule (or earlier in the
        list), which changes nothing (the service then books it alone); ``False`` too for
        one whose schedule does not exist, and an adapter may leave out (``False``) any
        member after one on its schedule that did not fit, as the service books every
        member left out alone. Commits when any was booked. The default books
        them one by one with ``add``; an adapter whose database aborts the transaction on
        a unique violation overrides it (the SQLAlchemy adapter locks the schedules' rows
        in the order of their ids, reads their active users among the group's once, and
        inserts the group together). An adapter that locks rows must lock them in one
        order, the same for every group, or two groups may deadlock.
        """
        booked: list[bool] = []
        for reservation in reservations:
            try:
                booked.append(self.reservations.add(reservation))
            except DuplicateReservationError:
                booked.append(False)
        if any(booked):
            self.commit()
        return booked

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard the work since the last commit (a no-op when there is none)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters need nothing here
        """Release what the unit of work holds (a connection, a lock)."""


class AbstractAsyncUnitOfWork(abc.ABC):
    """One transaction for :class:`~reservation_core.AsyncReservationService`.

    The use cases exist once, written against :class:`AbstractUnitOfWork`; an asynchronous
    unit of work runs one of them over a unit of work of its own, without blocking the
    event loop while the database works. The SQLAlchemy adapter runs the very same
    repositories through SQLAlchemy's greenlet bridge (``AsyncConnection.run_sync``); the
    in-memory one runs them directly, as they never wait.
    """

    #: As :attr:`AbstractUnitOfWork.retryable`: ``False`` inside the host's transaction.
    retryable: bool = True

    @abc.abstractmethod
    async def run(self, use_case: Callable[[AbstractUnitOfWork], T]) -> T:
        """Run ``use_case`` in one transaction and return what it returns.

        What ``use_case`` did not commit is rolled back, and whatever the unit of work
        holds (a connection) is released before this returns or raises, also when the
        awaiting task is cancelled. Raises what :class:`AbstractUnitOfWork` raises
        (:class:`TransientConflict`, :class:`ConnectionLost`, business errors).
        """
