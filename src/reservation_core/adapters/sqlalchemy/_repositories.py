"""Repositories over the prebuilt statements of :mod:`._statements` (private)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row

from reservation_core.domain import (
    Reservation,
    ReservationEvent,
    ReservationStatus,
    Schedule,
    event_type,
)
from reservation_core.domain._booking import counters_of, decide_group
from reservation_core.domain._events import HOLD_EXTENDED, QUANTITY_CHANGED, event_status
from reservation_core.domain._waitlist import WaitlistEntry, WaitlistStatus, waitlist_event_type
from reservation_core.ports import (
    DuplicateReservationError,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    TransientConflict,
)

from . import _statements as sql


def _reservation(row: Row[Any]) -> Reservation:
    return Reservation(
        id=row.id,
        schedule_id=row.schedule_id,
        user_id=row.user_id,
        quantity=row.quantity,
        status=ReservationStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        order_id=row.order_id,
    )


if TYPE_CHECKING:  # the runner's unit of work builds these repositories
    from ._runner import Runner


class _Repository:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def _skip_locked(self, wanted: bool) -> bool:
        return wanted and self._runner.rules.skips_locked_rows(self._runner.connection)


class SqlSchedules(_Repository):
    def add(self, schedule: Schedule) -> bool:
        row = {
            "id": schedule.id,
            "capacity": schedule.capacity,
            "reserved": schedule.reserved,
            "pool_count": len(schedule.pools),
        }
        if not self._runner.unless_taken(lambda: self._runner.execute(sql.ADD_SCHEDULE, row)):
            return False
        if schedule.pools:
            links = [{"schedule_id": schedule.id, "pool_id": pool} for pool in schedule.pools]
            self._runner.execute(sql.ADD_POOLS, links)  # type: ignore[arg-type]
        return True

    def get(self, schedule_id: str) -> Schedule | None:
        row = self._runner.execute(sql.SCHEDULE, {"schedule_id": schedule_id}).first()
        if row is None:
            return None
        pools = self._pools_of([schedule_id]).get(schedule_id, ()) if row.pool_count else ()
        return Schedule(row.id, row.capacity, row.reserved, pools, row.waitlisted)

    def _pools_of(self, schedule_ids: list[str]) -> dict[str, tuple[str, ...]]:
        pools: dict[str, tuple[str, ...]] = {}
        for row in self._runner.execute(sql.POOLS_OF, {"schedule_ids": schedule_ids}):
            pools[row.schedule_id] = (*pools.get(row.schedule_id, ()), row.pool_id)
        return pools

    def lock(self, schedule_ids: Sequence[str]) -> dict[str, Schedule]:
        ids = sorted(set(schedule_ids))
        pools = self._pools_of(ids)  # fixed at creation: read before any lock is taken
        wanted = sorted({*ids, *(pool for found in pools.values() for pool in found)})
        rows = self._runner.execute(sql.COUNTERS_FOR_UPDATE, {"schedule_ids": wanted})
        return {
            row.id: Schedule(
                row.id, row.capacity, row.reserved, pools.get(row.id, ()), row.waitlisted
            )
            for row in rows
        }

    def move_seats(self, changes: dict[str, int]) -> None:
        moved = {counter: seats for counter, seats in changes.items() if seats}
        if moved:
            params = sql.change_params(moved)
            self._runner.execute(sql.add_group_seats(len(moved)), params)

    def release_from_counters(
        self, counters: dict[str, Schedule], schedule_id: str, quantity: int
    ) -> bool:
        """Return seats to a locked schedule and its pools; ``False`` if one has too few."""
        schedule = counters.get(schedule_id)
        if schedule is None:
            return False
        ids = counters_of(schedule)
        if any(counters[counter].reserved < quantity for counter in ids):
            return False
        self.move_seats(dict.fromkeys(ids, -quantity))
        return True

    def set_capacity(self, schedule_id: str, capacity: int) -> bool:
        params = {"schedule_id": schedule_id, "capacity": capacity}
        return self._runner.execute(sql.SET_CAPACITY, params).rowcount == 1

    def release_seats(self, schedule_id: str, quantity: int) -> int | None:
        params = {"schedule_id": schedule_id, "quantity": quantity}
        if self._runner.execute(sql.RELEASE_SEATS, params).rowcount == 1:
            return 0  # the statement matches only a schedule whose waiting list is empty
        # A schedule with pools or a waiting list (or drift): locked with its pools.
        counters = self.lock([schedule_id])
        if not self.release_from_counters(counters, schedule_id, quantity):
            return None
        return counters[schedule_id].waitlisted

    def move_waitlist(self, schedule_id: str, change: int) -> None:
        self._runner.execute(sql.MOVE_WAITLIST, {"schedule_id": schedule_id, "change": change})

    def page(self, after: str | None, limit: int) -> list[Schedule]:
        if after is None:
            rows = self._runner.execute(sql.SCHEDULES_PAGE, {"p_limit": limit})
        else:
            rows = self._runner.execute(
                sql.SCHEDULES_PAGE_AFTER, {"p_after": after, "p_limit": limit}
            )
        found = rows.all()
        pooled = [row.id for row in found if row.pool_count]
        pools = self._pools_of(pooled) if pooled else {}
        return [
            Schedule(row.id, row.capacity, row.reserved, pools.get(row.id, ()), row.waitlisted)
            for row in found
        ]


class SqlReservations(_Repository):
    def add(self, reservation: Reservation) -> bool:
        booked: list[bool] = []
        if not self._runner.unless_taken(lambda: booked.append(self._runner.book(reservation))):
            raise DuplicateReservationError((reservation.schedule_id, reservation.user_id))
        return booked[0]

    def add_group(self, group: list[Reservation]) -> list[bool]:
        """Book a group under one lock of each of its schedules' rows: which were booked.

        The schedules' rows are locked first, in the order of their ids (every group takes
        them in that one order), then their active users among the group's are read: under
        the row locks nobody else can add one. The group is then decided in Python, in
        list order, and its rows inserted together.
        """
        run = self._runner.execute
        schedule_ids = sorted({r.schedule_id for r in group})
        rows = run(sql.SCHEDULES_FOR_UPDATE, {"schedule_ids": schedule_ids})
        left = {row.id: row.capacity - row.reserved for row in rows}
        if not left:
            return [False] * len(group)
        params = {"schedule_ids": list(left), "user_ids": sorted({r.user_id for r in group})}
        taken = {(row.schedule_id, row.active_user_id) for row in run(sql.ACTIVE_USERS, params)}
        booked = decide_group(group, left, taken)
        chosen = [r for r, fits in zip(group, booked, strict=True) if fits]
        if chosen:
            # A unique violation here (the row locks rule it out) would be a TransientConflict
            # like any other: the whole group is retried.
            self._runner.insert_group(chosen)
        return booked

    def insert(self, reservations: Sequence[Reservation]) -> None:
        rows = [sql.line_row(r, line) for line, r in enumerate(reservations)]
        events = [sql.event_row(r) for r in reservations]
        run = self._runner.execute
        if not self._runner.unless_taken(lambda: run(sql.INSERT_RESERVATION, rows)):  # type: ignore[arg-type]
            raise DuplicateReservationError([(r.schedule_id, r.user_id) for r in reservations])
        run(sql.APPEND_EVENT, events)  # type: ignore[arg-type]

    def set_quantity(
        self,
        reservation_id: str,
        status: ReservationStatus,
        from_quantity: int,
        to_quantity: int,
        at: datetime,
    ) -> bool:
        params = {
            "reservation_id": reservation_id,
            "p_status": str(status),
            "from_quantity": from_quantity,
            "to_quantity": to_quantity,
            "at": at,
        }
        if self._runner.execute(sql.SET_QUANTITY, params).rowcount != 1:
            return False
        params = {"reservation_id": reservation_id, "p_type": QUANTITY_CHANGED}
        self._runner.execute(sql.APPEND_TRANSITION_EVENT, params)
        return True

    def active_users(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        if not pairs:
            return set()
        params = {
            "schedule_ids": sorted({schedule_id for schedule_id, _ in pairs}),
            "user_ids": sorted({user_id for _, user_id in pairs}),
        }
        found = {
            (row.schedule_id, row.active_user_id)
            for row in self._runner.execute(sql.ACTIVE_USERS, params)
        }
        return found & set(pairs)

    def of_order(self, order_id: str) -> list[Reservation]:
        rows = self._runner.execute(sql.ORDER_LINES, {"order_id": order_id})
        return [_reservation(row) for row in rows]

    def get(self, reservation_id: str) -> Reservation | None:
        row = self._runner.execute(sql.RESERVATION, {"reservation_id": reservation_id}).first()
        return None if row is None else _reservation(row)

    def find_active(self, schedule_id: str, user_id: str) -> Reservation | None:
        params = {"schedule_id": schedule_id, "user_id": user_id}
        row = self._runner.execute(sql.ACTIVE, params).first()
        return None if row is None else _reservation(row)

    def confirm_hold(self, reservation_id: str, at: datetime) -> bool:
        params = {"reservation_id": reservation_id, "at": at}
        if self._runner.execute(sql.CONFIRM_HOLD, params).rowcount != 1:
            return False
        self._event_of(reservation_id, ReservationStatus.CONFIRMED)
        return True

    def _event_of(self, reservation_id: str, status: ReservationStatus | str) -> None:
        """Append the event of a move to ``status`` the reservation's row just made.

        Or, given an event type (``str``), the event of that change.
        """
        kind = event_type(status) if isinstance(status, ReservationStatus) else status
        params = {"reservation_id": reservation_id, "p_type": kind}
        self._runner.execute(sql.APPEND_TRANSITION_EVENT, params)

    def extend_hold(self, reservation_id: str, at: datetime, expires_at: datetime) -> bool:
        params = {"reservation_id": reservation_id, "at": at, "p_expires_at": expires_at}
        if self._runner.execute(sql.EXTEND_HOLD, params).rowcount != 1:
            return False
        self._event_of(reservation_id, HOLD_EXTENDED)
        return True

    def expire_holds(self, schedule_id: str, at: datetime, limit: int | None = None) -> int | None:
        run = self._runner.execute
        # Looked up without a lock first: a sold-out schedule without lapsed holds (the
        # common refusal) costs one indexed read and no wait on the schedule's row lock.
        params = {"schedule_id": schedule_id, "at": at}
        lapsed = run(*sql.limited(sql.LAPSED_HOLDS, params, limit)).all()
        if not lapsed:
            return 0
        schedules = SqlSchedules(self._runner)
        counters = schedules.lock([schedule_id])  # lock order: the counters first
        seats = expired = 0
        for row in lapsed:  # each a compare-and-set: a concurrent confirm or cancel may win
            if run(sql.EXPIRE_HOLD, {"reservation_id": row.id, "at": at}).rowcount == 1:
                self._event_of(row.id, ReservationStatus.EXPIRED)
                seats, expired = seats + row.quantity, expired + 1
        if seats == 0:
            return expired
        return expired if schedules.release_from_counters(counters, schedule_id, seats) else None

    def schedules_with_expired_holds(self, at: datetime, limit: int | None = None) -> list[str]:
        rows = self._runner.execute(
            *sql.limited(sql.SCHEDULES_WITH_LAPSED_HOLDS, {"at": at}, limit)
        )
        return sorted(set(rows.scalars()))

    def page(
        self,
        *,
        schedule_id: str | None,
        user_id: str | None,
        status: ReservationStatus | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Reservation]:
        query = sql.page(
            schedule_id is not None, user_id is not None, status is not None, after is not None
        )
        params: dict[str, Any] = {
            "schedule_id": schedule_id,
            "user_id": user_id,
            "status": None if status is None else str(status),
            "limit": limit,
        }
        if after is not None:
            params["after_created_at"], params["after_id"] = after
        return [_reservation(row) for row in self._runner.execute(query, params)]

    def try_transition(
        self,
        reservation_id: str,
        from_status: ReservationStatus,
        to_status: ReservationStatus,
        at: datetime,
    ) -> bool:
        params = sql.transition_params(reservation_id, from_status, to_status, at)
        return self._runner.transition(params)


class SqlIdempotencyKeys(_Repository):
    def get(self, user_id: str, key: str) -> IdempotencyRecord | None:
        row = self._runner.execute(sql.KEY, {"user_id": user_id, "key": key}).first()
        if row is None:
            return None
        return IdempotencyRecord(
            row.user_id, row.key, row.fingerprint, row.reservation_id, row.created_at
        )

    def add(self, record: IdempotencyRecord) -> None:
        row = {
            "user_id": record.user_id,
            "key": record.key,
            "fingerprint": record.fingerprint,
            "reservation_id": record.reservation_id,
            "created_at": record.created_at,
        }
        if not self._runner.unless_taken(lambda: self._runner.execute(sql.ADD_KEY, row)):
            raise IdempotencyKeyTaken((record.user_id, record.key))

    def replace(self, stored: IdempotencyRecord, record: IdempotencyRecord) -> None:
        params = {
            "p_user_id": stored.user_id,
            "p_key": stored.key,
            "p_stored_at": stored.created_at,
            "p_fingerprint": record.fingerprint,
            "p_reservation_id": record.reservation_id,
            "p_created_at": record.created_at,
        }
        if self._runner.execute(sql.REPLACE_EXPIRED_KEY, params).rowcount != 1:
            raise IdempotencyKeyTaken((record.user_id, record.key))

    def purge(self, created_before: datetime) -> int:
        return self._runner.execute(sql.PURGE_KEYS, {"before": created_before}).rowcount

    def purge_batch(self, created_before: datetime, limit: int, skip_locked: bool = True) -> int:
        run, params = self._runner.execute, {"p_before": created_before, "p_limit": limit}
        query = sql.expired_keys(self._skip_locked(skip_locked))
        keys = [tuple(row) for row in run(query, params)]
        if not keys:
            return 0
        return run(sql.DELETE_KEYS, {**params, "p_keys": keys}).rowcount


class SqlEvents(_Repository):
    def claim(
        self, consumer: str, limit: int, now: datetime, lease_expired: datetime
    ) -> list[ReservationEvent]:
        run = self._runner.execute
        # The consumer's row lock serializes its claims: the next one sees this one's.
        if run(sql.TOUCH_CONSUMER, {"p_consumer": consumer, "p_now": now}).rowcount != 1:
            row = {"consumer": consumer, "claimed_at": now}
            if not self._runner.unless_taken(lambda: run(sql.ADD_CONSUMER, row)):
                raise TransientConflict("a consumer's first claims raced")
        found = run(
            sql.CLAIMABLE.limit(limit), {"p_consumer": consumer, "p_lease_expired": lease_expired}
        ).all()
        fresh = [
            {"consumer": consumer, "event_id": r.id, "claimed_at": now}
            for r in found
            if r.claimed_before is None
        ]
        renewed = [
            {"p_consumer": consumer, "p_event_id": r.id, "p_now": now}
            for r in found
            if r.claimed_before is not None
        ]
        if fresh:
            run(sql.ADD_DELIVERY, fresh)  # type: ignore[arg-type]
        if renewed:
            run(sql.RENEW_DELIVERY, renewed)  # type: ignore[arg-type]
        return [_event(row) for row in found]

    def ack(self, consumer: str, event_ids: list[int], now: datetime) -> int:
        if not event_ids:
            return 0
        params = {"p_consumer": consumer, "p_event_ids": sorted(set(event_ids)), "p_now": now}
        return self._runner.execute(sql.ACK, params).rowcount

    def purge(self, occurred_before: datetime) -> int:
        self._runner.execute(sql.PURGE_DELIVERIES, {"p_before": occurred_before})
        return self._runner.execute(sql.PURGE_EVENTS, {"p_before": occurred_before}).rowcount

    def purge_acknowledged(
        self, occurred_before: datetime, limit: int, after: int = 0, skip_locked: bool = True
    ) -> tuple[int, int]:
        run = self._runner.execute
        query = sql.acknowledged_events(self._skip_locked(skip_locked))
        params = {"p_after": after, "p_before": occurred_before, "p_limit": limit}
        ids = [int(i) for i in run(query, params).scalars()]
        if not ids:
            return 0, after
        run(sql.DELETE_DELIVERIES_OF, {"p_ids": ids})
        return run(sql.DELETE_EVENTS, {"p_ids": ids}).rowcount, max(ids)


def _event(row: Row[Any]) -> ReservationEvent:
    return ReservationEvent(
        id=int(row.id),
        type=row.type,
        reservation_id=row.reservation_id,
        schedule_id=row.schedule_id,
        user_id=row.user_id,
        quantity=row.quantity,
        status=event_status(row.type, row.status),
        occurred_at=row.occurred_at,
    )


class SqlWaitlist(_Repository):
    def add(self, entry: WaitlistEntry, offer_for: timedelta) -> None:
        row = {
            "id": entry.id,
            "schedule_id": entry.schedule_id,
            "user_id": entry.user_id,
            "quantity": entry.quantity,
            "status": str(entry.status),
            "offer_for_us": offer_for // timedelta(microseconds=1),
            "reservation_id": entry.reservation_id,
            "created_at": entry.created_at,
            "updated_at": entry.updated_at,
        }
        if not self._runner.unless_taken(lambda: self._runner.execute(sql.ADD_ENTRY, row)):
            raise DuplicateReservationError((entry.schedule_id, entry.user_id))
        self._event_of(entry.id, entry.status)

    def _event_of(self, entry_id: str, status: WaitlistStatus) -> None:
        params = {"entry_id": entry_id, "p_type": waitlist_event_type(status)}
        self._runner.execute(sql.APPEND_ENTRY_EVENT, params)

    def _entry(self, row: Row[Any], position: int | None = None) -> WaitlistEntry:
        status = WaitlistStatus(row.status)
        if status is WaitlistStatus.WAITING and position is None:
            params = {"schedule_id": row.schedule_id, "seq": row.seq}
            position = int(self._runner.execute(sql.POSITION, params).scalar_one())
        return WaitlistEntry(
            id=row.id,
            schedule_id=row.schedule_id,
            user_id=row.user_id,
            quantity=row.quantity,
            status=status,
            position=position if status is WaitlistStatus.WAITING else None,
            reservation_id=row.reservation_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def _one(self, statement: Any, params: dict[str, Any]) -> WaitlistEntry | None:
        row = self._runner.execute(statement, params).first()
        return None if row is None else self._entry(row)

    def get(self, entry_id: str) -> WaitlistEntry | None:
        return self._one(sql.ENTRY, {"entry_id": entry_id})

    def find_active(self, schedule_id: str, user_id: str) -> WaitlistEntry | None:
        return self._one(sql.ACTIVE_ENTRY, {"schedule_id": schedule_id, "user_id": user_id})

    def by_reservation(self, reservation_id: str) -> WaitlistEntry | None:
        return self._one(sql.ENTRY_OF_RESERVATION, {"reservation_id": reservation_id})

    def waiting(
        self, schedule_id: str, limit: int | None = None
    ) -> list[tuple[WaitlistEntry, timedelta]]:
        params: dict[str, object] = {"schedule_id": schedule_id}
        statement = sql.WAITING if limit is None else sql.FIRST_WAITING
        if limit is not None:
            params["limit"] = limit
        rows = self._runner.execute(statement, params).all()
        return [
            (self._entry(row, n), timedelta(microseconds=row.offer_for_us))
            for n, row in enumerate(rows, 1)
        ]

    def answered(self, schedule_id: str) -> list[WaitlistEntry]:
        rows = self._runner.execute(sql.ANSWERED, {"schedule_id": schedule_id})
        return [self._entry(row) for row in rows]

    def move(
        self,
        entry_id: str,
        from_status: WaitlistStatus,
        to_status: WaitlistStatus,
        at: datetime,
        reservation_id: str | None = None,
    ) -> bool:
        params = {
            "entry_id": entry_id,
            "from_status": str(from_status),
            "to_status": str(to_status),
            "at": at,
            "offer_id": reservation_id,
        }
        if self._runner.execute(sql.MOVE_ENTRY, params).rowcount != 1:
            return False
        self._event_of(entry_id, to_status)
        return True
