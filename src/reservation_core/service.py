"""ReservationService: the use cases, each one unit of work, retried on transient conflicts."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from reservation_core._running.grouping import Member
from reservation_core._running.observing import observed
from reservation_core._running.retry import run_in_unit_of_work
from reservation_core._running.service_base import ServiceBase
from reservation_core._use_cases import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EVENT_RETENTION,
    DEFAULT_HOLD,
    DEFAULT_OFFER,
    Plan,
    Step,
    utc_now,
)
from reservation_core.domain import (
    Action,
    HousekeepingReport,
    OrderLine,
    Reservation,
    ReservationEvent,
    ReservationPage,
    ReservationStatus,
    Schedule,
    SchedulePage,
    WaitlistEntry,
)
from reservation_core.instrumentation import Hooks
from reservation_core.ports import AbstractUnitOfWork

__all__ = ["ReservationService"]

T = TypeVar("T")
UnitOfWorkFactory = Callable[[], AbstractUnitOfWork]


class ReservationService(ServiceBase):
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
        group_commit: whether ``create_reservation`` calls without an idempotency key that
            wait at the same time, in this service instance, are booked together: one of
            them books the group in one transaction and one commit, under one lock of each
            schedule's row, each caller getting its own result exactly as if it had come
            alone (in arrival order; a booking the group cannot take is booked by itself).
            Two groups may be under way at once, one written while the next gathers
            (one at a time on SQLite and the in-memory store, which take one writer at a
            time). Never inside the host's transaction. ``False`` books each call in a
            transaction of its own.
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
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = 10,
        retry_backoff: float = 0.002,
        idempotency_ttl: timedelta = timedelta(hours=24),
        max_concurrent_per_schedule: int | None = 2,
        hooks: Hooks | Sequence[Hooks] | None = None,
        group_commit: bool = True,
    ) -> None:
        super().__init__(
            uow_factory,
            clock=clock,
            max_attempts=max_attempts,
            retry_backoff=retry_backoff,
            idempotency_ttl=idempotency_ttl,
            max_concurrent_per_schedule=max_concurrent_per_schedule,
            hooks=hooks,
            group_commit=group_commit,
        )
        self._uow_factory = uow_factory

    # -- schedules -------------------------------------------------------------------------

    @observed
    def create_schedule(
        self, schedule_id: str, capacity: int, *, pools: Sequence[str] = ()
    ) -> Schedule:
        """Create a schedule with ``capacity`` seats, none reserved.

        ``pools`` (0 to 8 schedule ids) are shared capacities: every seat taken on this
        schedule is also taken on each pool, in the same transaction, or on none; every
        seat returned returns to all of them. A pool is an ordinary schedule (it can be
        booked directly), one level deep: a schedule with pools cannot be a pool. Pools
        are fixed at creation.

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (``pools``: not a list of ids, more
                than 8, repeated, the schedule itself, or a pool that has pools),
                ``SCHEDULE_NOT_FOUND`` (a pool; details name it),
                ``SCHEDULE_ALREADY_EXISTS``.

        Examples:
            >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
            >>> store = InMemoryStore()
            >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
            >>> _ = service.create_schedule("afternoon", capacity=50)
            >>> service.create_schedule("workshop-a", capacity=30, pools=["afternoon"]).pools
            ('afternoon',)
        """
        return self._drive(self._cases.create_schedule(schedule_id, capacity, pools))

    @observed
    def get_schedule(self, schedule_id: str) -> Schedule:
        """The schedule as it is now.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``SCHEDULE_NOT_FOUND``.
        """
        return self._drive(self._cases.get_schedule(schedule_id))

    @observed
    def change_capacity(self, schedule_id: str, capacity: int) -> Schedule:
        """Set a schedule's capacity; it may not fall below the seats already reserved.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``SCHEDULE_NOT_FOUND``,
                ``CAPACITY_BELOW_RESERVED``.
        """
        return self._drive(self._cases.change_capacity(schedule_id, capacity))

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
        return self._drive(
            self._cases.create_reservation(schedule_id, user_id, quantity, idempotency_key)
        )

    @observed
    def hold_reservation(
        self,
        schedule_id: str,
        user_id: str,
        *,
        quantity: int = 1,
        hold_for: timedelta = DEFAULT_HOLD,
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
        return self._drive(
            self._cases.hold_reservation(schedule_id, user_id, quantity, hold_for, idempotency_key)
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
        return self._drive(self._cases.confirm_reservation(reservation_id, user_id))

    @observed
    def cancel_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Reservation:
        """Cancel a ``HELD`` or ``CONFIRMED`` reservation; its seats return to the schedule.

        ``user_id``, when given, must own the reservation.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``,
                ``RESERVATION_ALREADY_CANCELLED``, ``INVALID_STATE_TRANSITION`` (refunded
                or expired).
        """
        return self._drive(self._cases.move(Action.CANCEL, reservation_id, user_id))

    @observed
    def refund_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Reservation:
        """Refund a ``CONFIRMED`` reservation; its seats return to the schedule.

        ``user_id``, when given, must own the reservation.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``,
                ``ALREADY_REFUNDED``, ``INVALID_STATE_TRANSITION`` (cancelled, held or
                expired: only a confirmed reservation is refunded).
        """
        return self._drive(self._cases.move(Action.REFUND, reservation_id, user_id))

    @observed
    def change_quantity(
        self, reservation_id: str, quantity: int, *, user_id: str | None = None
    ) -> Reservation:
        """Change the seats of a ``HELD`` or ``CONFIRMED`` reservation to ``quantity``.

        More seats are taken from the schedule and each of its pools atomically, or the
        call is refused and nothing changes; fewer seats return (to the waiting list
        first); the same quantity returns the reservation unchanged. This is how a user
        adds a seat to a booking (one active reservation per user and schedule stays the
        rule). An event ``reservation.quantity_changed``.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``,
                ``HOLD_EXPIRED`` (a hold past its ``expires_at``: it expires, its seats
                return), ``INVALID_STATE_TRANSITION`` (cancelled, refunded, expired),
                ``CAPACITY_EXCEEDED`` (``details["requested"]``: the extra seats).
        """
        return self._drive(self._cases.change_quantity(reservation_id, quantity, user_id))

    # -- orders ----------------------------------------------------------------------------

    @observed
    def create_order(
        self,
        user_id: str,
        lines: Sequence[OrderLine],
        *,
        idempotency_key: str | None = None,
        hold_for: timedelta | None = None,
    ) -> tuple[Reservation, ...]:
        """Book several schedules for a user at once, all or nothing, in one transaction.

        One reservation per line, in the order given, all sharing one ``order_id``;
        ``CONFIRMED``, or with ``hold_for`` all ``HELD`` until one ``expires_at``. Each
        line is an ordinary reservation afterwards. Every counter the lines count against
        (their schedules and pools) is locked in the order of the counters' ids, so
        overlapping orders and single bookings never deadlock. Idempotency keys work as
        for :meth:`create_reservation`: a replay of the same lines (same order, same
        ``hold_for``) returns the order's lines as they are now; a refused order does not
        use up its key.

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (``lines``: 1 to 50 ``OrderLine`` s,
                each on its own schedule), or the error the first refused line would
                raise on its own (``SCHEDULE_NOT_FOUND``, ``DUPLICATE_RESERVATION``,
                ``CAPACITY_EXCEEDED``, ...) with ``details["line"]``, its index; nothing
                of any line is written. ``IDEMPOTENCY_KEY_REUSED``.

        Examples:
            >>> from reservation_core import OrderLine
            >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
            >>> store = InMemoryStore()
            >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
            >>> _ = service.create_schedule("talk-a", capacity=5)
            >>> _ = service.create_schedule("workshop-b", capacity=1)
            >>> lines = service.create_order(
            ...     "user-7", [OrderLine("talk-a", quantity=2), OrderLine("workshop-b")]
            ... )
            >>> [(line.schedule_id, line.quantity) for line in lines]
            [('talk-a', 2), ('workshop-b', 1)]
            >>> lines[0].order_id == lines[1].order_id
            True
        """
        return self._drive(self._cases.create_order(user_id, lines, idempotency_key, hold_for))

    @observed
    def get_order(self, order_id: str, *, user_id: str | None = None) -> tuple[Reservation, ...]:
        """The order's lines as they are now, in the order given at creation.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``ORDER_NOT_FOUND`` (unknown, or
                another user's when ``user_id`` is given).
        """
        return self._drive(self._cases.get_order(order_id, user_id))

    @observed
    def confirm_order(
        self, order_id: str, *, user_id: str | None = None
    ) -> tuple[Reservation, ...]:
        """Confirm every ``HELD`` line in one transaction; ``CONFIRMED`` lines stay as they are.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``ORDER_NOT_FOUND``,
                ``INVALID_STATE_TRANSITION`` (a line cancelled or refunded: nothing
                changes), ``HOLD_EXPIRED`` (the hold has lapsed, or a line expired: no
                line is confirmed, the held lines become ``EXPIRED`` and their seats
                return, committed although the call raises).
        """
        return self._drive(self._cases.confirm_order(order_id, user_id))

    @observed
    def cancel_order(self, order_id: str, *, user_id: str | None = None) -> tuple[Reservation, ...]:
        """Cancel every ``HELD`` or ``CONFIRMED`` line in one transaction; return all lines.

        Lines in other states are left as they are; their seats return to their
        schedules and pools.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``ORDER_NOT_FOUND``; when no line
                was active, the error cancelling the first line gives
                (``RESERVATION_ALREADY_CANCELLED``, ``INVALID_STATE_TRANSITION``).
        """
        return self._drive(self._cases.cancel_order(order_id, user_id))

    # -- waiting lists ---------------------------------------------------------------------

    @observed
    def join_waitlist(
        self,
        schedule_id: str,
        user_id: str,
        *,
        quantity: int = 1,
        offer_for: timedelta = DEFAULT_OFFER,
    ) -> WaitlistEntry:
        """Put a user on a schedule's waiting list for ``quantity`` seats, all or none.

        The entry joins the end of the line, and first fit applies at once: if its seats
        are free now (in the schedule and its pools) it is ``OFFERED`` at once, else
        ``WAITING`` with its ``position``. Whenever seats are freed on the schedule
        (cancel, refund, an expired hold or offer, a bigger capacity, an entry leaving),
        the ``WAITING`` entries that fit them, in join order, are offered them in that
        very transaction: a ``HELD`` reservation for the entry's user (``reservation_id``),
        expiring ``offer_for`` after the offer. :meth:`confirm_reservation` accepts it
        (``ACCEPTED``); if it expires (``EXPIRED``) or is cancelled (``LEFT``), its seats
        go on to the next entries. Events: ``waitlist.joined``, ``waitlist.offered``, ...

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``SCHEDULE_NOT_FOUND``,
                ``DUPLICATE_WAITLIST_ENTRY`` (the user already waits or holds an offer
                there; checked first), ``DUPLICATE_RESERVATION`` (the user has an active
                reservation there).

        Examples:
            >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
            >>> store = InMemoryStore()
            >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
            >>> _ = service.create_schedule("talk-a", capacity=1)
            >>> booking = service.create_reservation("talk-a", "ann")
            >>> entry = service.join_waitlist("talk-a", "bob")
            >>> entry.status, entry.position
            (<WaitlistStatus.WAITING: 'WAITING'>, 1)
            >>> _ = service.cancel_reservation(booking.id)
            >>> service.get_waitlist_entry(entry.id).status
            <WaitlistStatus.OFFERED: 'OFFERED'>
        """
        return self._drive(self._cases.join_waitlist(schedule_id, user_id, quantity, offer_for))

    @observed
    def leave_waitlist(self, entry_id: str, *, user_id: str | None = None) -> WaitlistEntry:
        """Take a ``WAITING`` or ``OFFERED`` entry off the list: ``LEFT``.

        An offer's hold is cancelled, and its seats go on to the next entries.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``WAITLIST_ENTRY_NOT_FOUND``,
                ``INVALID_STATE_TRANSITION`` (the entry is no longer on the list).
        """
        return self._drive(self._cases.leave_waitlist(entry_id, user_id))

    @observed
    def get_waitlist_entry(self, entry_id: str, *, user_id: str | None = None) -> WaitlistEntry:
        """The entry as it is now, with its live ``position``.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``WAITLIST_ENTRY_NOT_FOUND`` (unknown,
                or another user's when ``user_id`` is given).
        """
        return self._drive(self._cases.get_waitlist_entry(entry_id, user_id))

    @observed
    def get_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Reservation:
        """The reservation as it is now; ``user_id``, when given, must own it.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND``.
        """
        return self._drive(self._cases.get_reservation(reservation_id, user_id))

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
        return self._drive(
            self._cases.list_reservations(schedule_id, user_id, status, limit, after)
        )

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
        return self._drive(self._cases.release_expired_holds())

    @observed
    def purge_expired_idempotency_keys(self) -> int:
        """Delete idempotency keys older than the TTL; returns how many were deleted."""
        return self._drive(self._cases.purge_expired_idempotency_keys())

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
        return self._drive(self._cases.claim_events(consumer, limit, lease))

    @observed
    def ack_events(self, consumer: str, event_ids: Iterable[int]) -> int:
        """Record events as handled by ``consumer``; they are never claimed by it again.

        Returns how many were newly acknowledged (an id acknowledged before, or never
        claimed by the consumer, counts for nothing).

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (``event_ids`` positive integers, at
                most 10,000).
        """
        return self._drive(self._cases.ack_events(consumer, event_ids))

    @observed
    def purge_events(self, older_than: timedelta) -> int:
        """Delete the events (and their deliveries) older than ``older_than``.

        Whether or not every consumer has acknowledged them: choose a retention longer
        than any consumer may lag. Returns how many events were deleted.

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (a positive ``timedelta``).
        """
        return self._drive(self._cases.purge_events(older_than))

    # -- holds, schedules' pages, housekeeping ---------------------------------------------

    @observed
    def extend_hold(
        self, reservation_id: str, hold_for: timedelta, *, user_id: str | None = None
    ) -> Reservation:
        """Give a hold that has not expired a new deadline: ``expires_at = now + hold_for``.

        The hold stays ``HELD`` with its seats; ``updated_at`` becomes now, and a
        ``reservation.hold_extended`` event is written with the change. ``hold_for`` is
        checked as :meth:`hold_reservation` checks it; the new deadline may be earlier
        than the old one. A hold past its ``expires_at`` is refused with
        ``HOLD_EXPIRED`` and becomes ``EXPIRED``, its seats returned (committed although
        the call raises). An extension racing with a confirm, cancel or expiry of the
        same hold either happens before it or is refused.

        Raises:
            BusinessException: ``VALIDATION_ERROR``, ``RESERVATION_NOT_FOUND`` (unknown,
                or not ``user_id``'s), ``HOLD_EXPIRED`` (410: past its ``expires_at``, or
                ``EXPIRED``), ``INVALID_STATE_TRANSITION`` (confirmed, cancelled or
                refunded).

        Examples:
            >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
            >>> store = InMemoryStore()
            >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
            >>> _ = service.create_schedule("tour", capacity=2)
            >>> hold = service.hold_reservation("tour", "ann", hold_for=timedelta(minutes=5))
            >>> longer = service.extend_hold(hold.id, timedelta(minutes=15), user_id="ann")
            >>> longer.status, longer.expires_at - longer.updated_at
            (<ReservationStatus.HELD: 'HELD'>, datetime.timedelta(seconds=900))
        """
        return self._drive(self._cases.extend_hold(reservation_id, hold_for, user_id))

    @observed
    def list_schedules(self, *, limit: int = 50, after: str | None = None) -> SchedulePage:
        """A page of schedules, in the order of their ids.

        Keyset pagination on the primary key: pass the page's ``next_cursor`` as
        ``after`` for the next one (``None`` on the last page); each page costs an index
        range scan, however deep. The order is the database's order of ids: code point
        order on SQLite, MariaDB/MySQL and the in-memory store, the column's collation
        on PostgreSQL.

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (``limit`` outside ``1..1000``;
                ``after`` not a cursor from this method).

        Examples:
            >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
            >>> store = InMemoryStore()
            >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
            >>> for name in ("b-tour", "a-tour", "c-tour"):
            ...     _ = service.create_schedule(name, capacity=5)
            >>> page = service.list_schedules(limit=2)
            >>> [s.id for s in page.items]
            ['a-tour', 'b-tour']
            >>> [s.id for s in service.list_schedules(after=page.next_cursor).items]
            ['c-tour']
        """
        return self._drive(self._cases.list_schedules(limit, after))

    @observed
    def run_housekeeping(
        self,
        *,
        event_retention: timedelta = DEFAULT_EVENT_RETENTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> HousekeepingReport:
        """Do every periodic job once; returns what was done.

        1. Holds lapsed when the call began expire and their seats return (as
           :meth:`release_expired_holds`), at most ``batch_size`` holds of one schedule
           per transaction.
        2. Idempotency keys older than the service's ``idempotency_ttl`` are deleted.
        3. Events older than ``event_retention`` that every known consumer has
           acknowledged are deleted, with their deliveries. A consumer is known from its
           first :meth:`claim_events` on; with no consumer known, every event older
           than ``event_retention`` goes.

        Every transaction changes at most ``batch_size`` rows and holds its locks that
        long only, so a backlog of any size never makes a long transaction. Safe to run
        from several processes at once: each hold expires once (one ``EXPIRED`` event),
        each row is deleted once, and the counts add up across processes. Run it every
        minute or so (``reservation-core maintain``; see docs/operating.md).

        Raises:
            BusinessException: ``VALIDATION_ERROR`` (``event_retention`` a positive
                ``timedelta``; ``batch_size`` in ``1..10000``), ``STORAGE_UNAVAILABLE``,
                ``CONCURRENCY_CONFLICT``.

        Examples:
            >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
            >>> store = InMemoryStore()
            >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
            >>> service.run_housekeeping(event_retention=timedelta(days=30))
            HousekeepingReport(holds_expired=0, idempotency_keys_purged=0, events_purged=0, transactions=5)
        """  # noqa: E501
        return self._drive(self._cases.run_housekeeping(event_retention, batch_size))

    # -- internals -------------------------------------------------------------------------

    def _drive(self, plan: Plan[T]) -> T:
        """Run each step of ``plan`` in a unit of work of its own; return its answer."""
        try:
            step = next(plan)
            while True:
                step = plan.send(self._run(step))
        except StopIteration as done:
            answer: T = done.value
            return answer

    def _run(self, step: Step) -> Any:
        """Run ``step``: with a group of bookings where it can be, else by itself."""
        grouped = self._grouping(step.member, step.booking)
        if grouped is None:
            return self._run_alone(step)
        groups, member = grouped
        booked = groups.book(member, lambda: self._run_alone(step), self._run_group)
        return booked if booked is not None else self._run_alone(step)

    def _run_group(self, group: list[Member]) -> list[Reservation | None]:
        return run_in_unit_of_work(
            self._new_unit, self._cases.book_group(self._members(group)), self._retry
        )

    def _new_unit(self) -> AbstractUnitOfWork:
        """A unit of work from the factory, noting whether it is one of its own."""
        return self._seen(self._uow_factory())

    def _run_alone(self, step: Step) -> Any:
        """Run ``step`` in a fresh unit of work, again on transient failures."""
        admission, booking = self._admission, step.booking
        return run_in_unit_of_work(
            self._new_unit,
            step.use_case,
            self._retry,
            admitted=(
                contextlib.nullcontext
                if admission is None or booking is None
                else functools.partial(admission.admitted, booking)
            ),
        )
