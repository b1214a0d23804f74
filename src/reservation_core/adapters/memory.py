"""An in-memory store with the same guarantees as the database adapters.

A unit of work holds the store's lock from ``__enter__`` to ``__exit__``, so every unit of
work is serializable by construction. Writes go straight to the store and are journalled;
rollback replays the journal backwards, so it costs what the unit of work changed.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import Self, TypeVar

from reservation_core.domain import (
    Reservation,
    ReservationEvent,
    ReservationStatus,
    Schedule,
)
from reservation_core.domain._booking import counters_of, fits
from reservation_core.domain._events import (
    HOLD_EXTENDED,
    QUANTITY_CHANGED,
    entry_event_of,
    event_of,
)
from reservation_core.domain._waitlist import WaitlistEntry, WaitlistStatus
from reservation_core.ports import (
    AbstractAsyncUnitOfWork,
    AbstractUnitOfWork,
    DuplicateReservationError,
    IdempotencyKeyTaken,
    IdempotencyRecord,
)

__all__ = ["AsyncInMemoryUnitOfWork", "InMemoryStore", "InMemoryUnitOfWork"]

K = TypeVar("K")
T = TypeVar("T")
V = TypeVar("V")


class InMemoryStore:
    """The data of the in-memory backend; share one store between units of work.

    Safe to use from many threads. Nothing is persisted.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.schedules: dict[str, Schedule] = {}
        self.reservations: dict[str, Reservation] = {}
        #: The duplicate guard, like a unique index: (schedule, user) -> the id of the
        #: user's active (HELD or CONFIRMED) reservation.
        self.active: dict[tuple[str, str], str] = {}
        self.idempotency_keys: dict[tuple[str, str], IdempotencyRecord] = {}
        #: The events by id, and each consumer's deliveries: (claimed_at, acked_at).
        self.events: dict[int, ReservationEvent] = {}
        self.deliveries: dict[tuple[str, int], tuple[datetime, datetime | None]] = {}
        #: Every consumer name that ever claimed, and when it last did.
        self.consumers: dict[str, datetime] = {}
        self.event_ids = itertools.count(1)
        #: Waiting-list entries by id (in join order) and each one's ``offer_for``.
        self.entries: dict[str, WaitlistEntry] = {}
        self.offer_for: dict[str, timedelta] = {}


class _Journal:
    """Undo records for one unit of work."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def put(self, table: MutableMapping[K, V], key: K, value: V) -> None:
        self._remember(table, key)
        table[key] = value

    def pop(self, table: MutableMapping[K, V], key: K) -> None:
        self._remember(table, key)
        table.pop(key, None)

    def _remember(self, table: MutableMapping[K, V], key: K) -> None:
        if key in table:
            old = table[key]
            self._undo.append(lambda: table.__setitem__(key, old))
        else:
            self._undo.append(lambda: _discard(table, key))

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()

    def forget(self) -> None:
        self._undo.clear()


def _discard(table: MutableMapping[K, V], key: K) -> None:
    table.pop(key, None)


class _Schedules:
    def __init__(self, store: InMemoryStore, journal: _Journal) -> None:
        self._store, self._journal = store, journal

    def add(self, schedule: Schedule) -> bool:
        if schedule.id in self._store.schedules:
            return False
        self._journal.put(self._store.schedules, schedule.id, schedule)
        return True

    def get(self, schedule_id: str) -> Schedule | None:
        return self._store.schedules.get(schedule_id)

    def set_capacity(self, schedule_id: str, capacity: int) -> bool:
        schedule = self._store.schedules.get(schedule_id)
        if schedule is None or schedule.reserved > capacity:
            return False
        self._put(dataclasses.replace(schedule, capacity=capacity))
        return True

    def release_seats(self, schedule_id: str, quantity: int) -> int | None:
        schedule = self._store.schedules[schedule_id]
        counters = [self._store.schedules[c] for c in counters_of(schedule)]
        if any(counter.reserved < quantity for counter in counters):
            return None
        self.move_seats({counter.id: -quantity for counter in counters})
        return schedule.waitlisted

    def move_waitlist(self, schedule_id: str, change: int) -> None:
        schedule = self._store.schedules[schedule_id]
        self._put(dataclasses.replace(schedule, waitlisted=schedule.waitlisted + change))

    def lock(self, schedule_ids: Sequence[str]) -> dict[str, Schedule]:
        found = [self._store.schedules[i] for i in schedule_ids if i in self._store.schedules]
        wanted = {counter for schedule in found for counter in counters_of(schedule)}
        return {i: self._store.schedules[i] for i in sorted(wanted)}

    def move_seats(self, changes: dict[str, int]) -> None:
        for schedule_id, seats in changes.items():
            schedule = self._store.schedules[schedule_id]
            self._put(dataclasses.replace(schedule, reserved=schedule.reserved + seats))

    def page(self, after: str | None, limit: int) -> list[Schedule]:
        ids = sorted(i for i in self._store.schedules if after is None or i > after)
        return [self._store.schedules[i] for i in ids[:limit]]

    def _put(self, schedule: Schedule) -> None:
        self._journal.put(self._store.schedules, schedule.id, schedule)


class _Reservations:
    def __init__(self, store: InMemoryStore, journal: _Journal, schedules: _Schedules) -> None:
        self._store, self._journal, self._schedules = store, journal, schedules

    def add(self, reservation: Reservation) -> bool:
        slot = (reservation.schedule_id, reservation.user_id)
        schedule = self._store.schedules.get(reservation.schedule_id)
        if (
            schedule is None
            or schedule.pools  # as the SQL adapter's fast paths: see ``insert``
            or not fits(reservation.quantity, schedule.remaining)
        ):
            return False
        if slot in self._store.active:
            raise DuplicateReservationError(slot)
        self._schedules.move_seats({schedule.id: reservation.quantity})
        self.insert([reservation])
        return True

    def insert(self, reservations: Sequence[Reservation]) -> None:
        for reservation in reservations:
            slot = (reservation.schedule_id, reservation.user_id)
            if slot in self._store.active:
                raise DuplicateReservationError(slot)
            self._journal.put(self._store.active, slot, reservation.id)
            self._journal.put(self._store.reservations, reservation.id, reservation)
            self._append_event(reservation)

    def set_quantity(
        self,
        reservation_id: str,
        status: ReservationStatus,
        from_quantity: int,
        to_quantity: int,
        at: datetime,
    ) -> bool:
        current = self._store.reservations.get(reservation_id)
        if current is None or (current.status, current.quantity) != (status, from_quantity):
            return False
        changed = dataclasses.replace(current, quantity=to_quantity, updated_at=at)
        self._journal.put(self._store.reservations, reservation_id, changed)
        self._append_event(changed, QUANTITY_CHANGED)
        return True

    def active_users(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return {pair for pair in pairs if pair in self._store.active}

    def of_order(self, order_id: str) -> list[Reservation]:
        return [r for r in self._store.reservations.values() if r.order_id == order_id]

    def _append_event(self, reservation: Reservation, kind: str | None = None) -> None:
        event_id = next(self._store.event_ids)  # never reused, like a sequence
        self._journal.put(self._store.events, event_id, event_of(reservation, event_id, kind))

    def get(self, reservation_id: str) -> Reservation | None:
        return self._store.reservations.get(reservation_id)

    def find_active(self, schedule_id: str, user_id: str) -> Reservation | None:
        reservation_id = self._store.active.get((schedule_id, user_id))
        return None if reservation_id is None else self._store.reservations[reservation_id]

    def confirm_hold(self, reservation_id: str, at: datetime) -> bool:
        current = self._store.reservations.get(reservation_id)
        if current is None or not _unexpired_hold(current, at):
            return False
        return self.try_transition(
            reservation_id, ReservationStatus.HELD, ReservationStatus.CONFIRMED, at
        )

    def extend_hold(self, reservation_id: str, at: datetime, expires_at: datetime) -> bool:
        current = self._store.reservations.get(reservation_id)
        if current is None or not _unexpired_hold(current, at):
            return False
        extended = dataclasses.replace(current, updated_at=at, expires_at=expires_at)
        self._journal.put(self._store.reservations, reservation_id, extended)
        self._append_event(extended, HOLD_EXTENDED)
        return True

    def expire_holds(self, schedule_id: str, at: datetime, limit: int | None = None) -> int | None:
        lapsed = [
            r
            for r in self._store.reservations.values()
            if r.schedule_id == schedule_id
            and r.status is ReservationStatus.HELD
            and not _unexpired_hold(r, at)
        ][:limit]
        if not lapsed:
            return 0
        if self._schedules.release_seats(schedule_id, sum(r.quantity for r in lapsed)) is None:
            return None
        for r in lapsed:
            self.try_transition(r.id, ReservationStatus.HELD, ReservationStatus.EXPIRED, at)
        return len(lapsed)

    def schedules_with_expired_holds(self, at: datetime, limit: int | None = None) -> list[str]:
        lapsed = sorted(
            (r.expires_at, r.schedule_id)
            for r in self._store.reservations.values()
            if r.status is ReservationStatus.HELD and not _unexpired_hold(r, at)
        )
        return sorted({schedule_id for _, schedule_id in lapsed[:limit]})

    def page(
        self,
        *,
        schedule_id: str | None,
        user_id: str | None,
        status: ReservationStatus | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Reservation]:
        found = sorted(
            (
                r
                for r in self._store.reservations.values()
                if schedule_id in (None, r.schedule_id)
                and user_id in (None, r.user_id)
                and status in (None, r.status)
                and (after is None or (r.created_at, r.id) > after)
            ),
            key=lambda r: (r.created_at, r.id),
        )
        return found[:limit]

    def try_transition(
        self,
        reservation_id: str,
        from_status: ReservationStatus,
        to_status: ReservationStatus,
        at: datetime,
    ) -> bool:
        current = self._store.reservations.get(reservation_id)
        if current is None or current.status is not from_status:
            return False
        moved = dataclasses.replace(current, status=to_status, updated_at=at)
        self._journal.put(self._store.reservations, reservation_id, moved)
        slot = (current.schedule_id, current.user_id)
        if from_status.holds_seats and not to_status.holds_seats:
            self._journal.pop(self._store.active, slot)
        if to_status.holds_seats:
            self._journal.put(self._store.active, slot, reservation_id)
        self._append_event(moved)
        return True


def _unexpired_hold(reservation: Reservation, at: datetime) -> bool:
    """Whether ``reservation`` is a hold whose ``expires_at`` is still after ``at``."""
    expires_at = reservation.expires_at
    return (
        reservation.status is ReservationStatus.HELD and expires_at is not None and expires_at > at
    )


class _Waitlist:
    def __init__(self, store: InMemoryStore, journal: _Journal) -> None:
        self._store, self._journal = store, journal

    def add(self, entry: WaitlistEntry, offer_for: timedelta) -> None:
        if self.find_active(entry.schedule_id, entry.user_id) is not None:
            raise DuplicateReservationError((entry.schedule_id, entry.user_id))
        self._journal.put(self._store.entries, entry.id, entry)
        self._journal.put(self._store.offer_for, entry.id, offer_for)
        self._append_event(entry)

    def _append_event(self, entry: WaitlistEntry) -> None:
        event_id = next(self._store.event_ids)
        self._journal.put(self._store.events, event_id, entry_event_of(entry, event_id))

    def _placed(self, entry: WaitlistEntry) -> WaitlistEntry:
        if entry.status is not WaitlistStatus.WAITING:
            return entry
        ahead = 0
        for other in self._store.entries.values():
            if other.schedule_id == entry.schedule_id and other.status is WaitlistStatus.WAITING:
                ahead += 1
                if other.id == entry.id:
                    break
        return dataclasses.replace(entry, position=ahead)

    def get(self, entry_id: str) -> WaitlistEntry | None:
        entry = self._store.entries.get(entry_id)
        return None if entry is None else self._placed(entry)

    def find_active(self, schedule_id: str, user_id: str) -> WaitlistEntry | None:
        for entry in self._store.entries.values():
            if (entry.schedule_id, entry.user_id) == (schedule_id, user_id) and (
                entry.status.on_the_list
            ):
                return self._placed(entry)
        return None

    def by_reservation(self, reservation_id: str) -> WaitlistEntry | None:
        for entry in self._store.entries.values():
            if entry.reservation_id == reservation_id:
                return self._placed(entry)
        return None

    def waiting(
        self, schedule_id: str, limit: int | None = None
    ) -> list[tuple[WaitlistEntry, timedelta]]:
        found = [
            e
            for e in self._store.entries.values()
            if e.schedule_id == schedule_id and e.status is WaitlistStatus.WAITING
        ]
        return [
            (dataclasses.replace(e, position=n), self._store.offer_for[e.id])
            for n, e in enumerate(found[:limit], 1)
        ]

    def answered(self, schedule_id: str) -> list[WaitlistEntry]:
        held = ReservationStatus.HELD
        return [
            e
            for e in self._store.entries.values()
            if e.schedule_id == schedule_id
            and e.status is WaitlistStatus.OFFERED
            and (
                e.reservation_id is None
                or self._store.reservations[e.reservation_id].status is not held
            )
        ]

    def move(
        self,
        entry_id: str,
        from_status: WaitlistStatus,
        to_status: WaitlistStatus,
        at: datetime,
        reservation_id: str | None = None,
    ) -> bool:
        current = self._store.entries.get(entry_id)
        if current is None or current.status is not from_status:
            return False
        moved = dataclasses.replace(
            current,
            status=to_status,
            updated_at=at,
            position=None,
            reservation_id=reservation_id or current.reservation_id,
        )
        self._journal.put(self._store.entries, entry_id, moved)
        self._append_event(moved)
        return True


class _IdempotencyKeys:
    def __init__(self, store: InMemoryStore, journal: _Journal) -> None:
        self._store, self._journal = store, journal

    def get(self, user_id: str, key: str) -> IdempotencyRecord | None:
        return self._store.idempotency_keys.get((user_id, key))

    def add(self, record: IdempotencyRecord) -> None:
        slot = (record.user_id, record.key)
        if slot in self._store.idempotency_keys:
            raise IdempotencyKeyTaken(slot)
        self._journal.put(self._store.idempotency_keys, slot, record)

    def replace(self, stored: IdempotencyRecord, record: IdempotencyRecord) -> None:
        slot = (stored.user_id, stored.key)
        if self._store.idempotency_keys.get(slot) != stored:
            raise IdempotencyKeyTaken(slot)
        self._journal.put(self._store.idempotency_keys, slot, record)

    def purge(self, created_before: datetime) -> int:
        expired = [
            slot
            for slot, record in self._store.idempotency_keys.items()
            if record.created_at < created_before
        ]
        for slot in expired:
            self._journal.pop(self._store.idempotency_keys, slot)
        return len(expired)

    def purge_batch(self, created_before: datetime, limit: int, skip_locked: bool = True) -> int:
        keys = self._store.idempotency_keys
        expired = sorted(
            (record.created_at, slot)
            for slot, record in keys.items()
            if record.created_at < created_before
        )
        for _, slot in expired[:limit]:
            self._journal.pop(keys, slot)
        return len(expired[:limit])


class _Events:
    def __init__(self, store: InMemoryStore, journal: _Journal) -> None:
        self._store, self._journal = store, journal

    def claim(
        self, consumer: str, limit: int, now: datetime, lease_expired: datetime
    ) -> list[ReservationEvent]:
        deliveries = self._store.deliveries
        self._journal.put(self._store.consumers, consumer, now)
        claimed: list[ReservationEvent] = []
        for event_id in sorted(self._store.events):
            delivery = deliveries.get((consumer, event_id))
            if delivery is None or (delivery[1] is None and delivery[0] < lease_expired):
                claimed.append(self._store.events[event_id])
                self._journal.put(deliveries, (consumer, event_id), (now, None))
                if len(claimed) == limit:
                    break
        return claimed

    def ack(self, consumer: str, event_ids: list[int], now: datetime) -> int:
        acked = 0
        for event_id in set(event_ids):
            delivery = self._store.deliveries.get((consumer, event_id))
            if delivery is not None and delivery[1] is None:
                self._journal.put(self._store.deliveries, (consumer, event_id), (delivery[0], now))
                acked += 1
        return acked

    def purge(self, occurred_before: datetime) -> int:
        old = [i for i, e in self._store.events.items() if e.occurred_at < occurred_before]
        return self._delete(old)

    def purge_acknowledged(
        self, occurred_before: datetime, limit: int, after: int = 0, skip_locked: bool = True
    ) -> tuple[int, int]:
        deliveries = self._store.deliveries
        done = [
            event_id
            for event_id, event in sorted(self._store.events.items())
            if event_id > after
            and event.occurred_at < occurred_before
            and all(
                deliveries.get((consumer, event_id), (None, None))[1] is not None
                for consumer in self._store.consumers
            )
        ]
        batch = done[:limit]
        return self._delete(batch), max(batch, default=after)

    def _delete(self, old: list[int]) -> int:
        """Delete the events ``old`` and their deliveries; how many."""
        for event_id in old:
            self._journal.pop(self._store.events, event_id)
        gone = set(old)
        for slot in [slot for slot in self._store.deliveries if slot[1] in gone]:
            self._journal.pop(self._store.deliveries, slot)
        return len(old)


class InMemoryUnitOfWork(AbstractUnitOfWork):
    """A unit of work over an :class:`InMemoryStore`.

    Holds the store's lock while open; use one per use case, as the service does.

    Examples:
        >>> store = InMemoryStore()
        >>> with InMemoryUnitOfWork(store) as uow:
        ...     _ = uow.schedules.add(Schedule("s1", capacity=3, reserved=0))
        ...     # no commit: leaving the block rolls back
        >>> store.schedules
        {}
    """

    _one_writer = True  # the store's lock: group commit books one group at a time

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._journal = _Journal()
        self._open = False
        schedules = _Schedules(store, self._journal)
        self.schedules = schedules
        self.reservations = _Reservations(store, self._journal, schedules)
        self.idempotency_keys = _IdempotencyKeys(store, self._journal)
        self.events = _Events(store, self._journal)
        self.waitlist = _Waitlist(store, self._journal)

    def __enter__(self) -> Self:
        self._store.lock.acquire()
        self._open = True
        return super().__enter__()

    def commit(self) -> None:
        """Keep the changes made so far."""
        self._journal.forget()

    def rollback(self) -> None:
        """Undo the changes since the last commit."""
        self._journal.undo()

    def close(self) -> None:
        """Release the store's lock."""
        if self._open:
            self._open = False
            self._store.lock.release()


class AsyncInMemoryUnitOfWork(AbstractAsyncUnitOfWork):
    """An :class:`InMemoryUnitOfWork` for :class:`~reservation_core.AsyncReservationService`.

    The use case runs at once, on the event loop: the store never waits on I/O, and its
    lock is held only while the use case runs, never across an ``await``. Tasks, and
    threads using :class:`InMemoryUnitOfWork` on the same store, see each other's commits.

    Examples:
        >>> import asyncio
        >>> from reservation_core import AsyncReservationService
        >>> store = InMemoryStore()
        >>> service = AsyncReservationService(lambda: AsyncInMemoryUnitOfWork(store))
        >>> asyncio.run(service.create_schedule("s1", capacity=3)).remaining
        3
    """

    _one_writer = True  # the store's lock: group commit books one group at a time

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def run(self, use_case: Callable[[AbstractUnitOfWork], T]) -> T:
        """Run ``use_case`` over an :class:`InMemoryUnitOfWork` of the store."""
        with InMemoryUnitOfWork(self._store) as uow:
            return use_case(uow)
