"""Repositories over the prebuilt statements of :mod:`._statements` (private)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row

from reservation_core.domain import (
    Reservation,
    ReservationEvent,
    ReservationStatus,
    Schedule,
    event_type,
)
from reservation_core.domain._booking import decide_group
from reservation_core.domain._events import HOLD_EXTENDED
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
        row = {"id": schedule.id, "capacity": schedule.capacity, "reserved": schedule.reserved}
        return self._runner.unless_taken(lambda: self._runner.execute(sql.ADD_SCHEDULE, row))

    def get(self, schedule_id: str) -> Schedule | None:
        row = self._runner.execute(sql.SCHEDULE, {"schedule_id": schedule_id}).first()
        return None if row is None else Schedule(row.id, row.capacity, row.reserved)

    def set_capacity(self, schedule_id: str, capacity: int) -> bool:
        params = {"schedule_id": schedule_id, "capacity": capacity}
        return self._runner.execute(sql.SET_CAPACITY, params).rowcount == 1

    def release_seats(self, schedule_id: str, quantity: int) -> bool:
        params = {"schedule_id": schedule_id, "quantity": quantity}
        return self._runner.execute(sql.RELEASE_SEATS, params).rowcount == 1

    def page(self, after: str | None, limit: int) -> list[Schedule]:
        if after is None:
            rows = self._runner.execute(sql.SCHEDULES_PAGE, {"p_limit": limit})
        else:
            rows = self._runner.execute(
                sql.SCHEDULES_PAGE_AFTER, {"p_after": after, "p_limit": limit}
            )
        return [Schedule(row.id, row.capacity, row.reserved) for row in rows]


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
        run(sql.LOCK_SCHEDULE, {"schedule_id": schedule_id})  # lock order: schedule first
        seats = expired = 0
        for row in lapsed:  # each a compare-and-set: a concurrent confirm or cancel may win
            if run(sql.EXPIRE_HOLD, {"reservation_id": row.id, "at": at}).rowcount == 1:
                self._event_of(row.id, ReservationStatus.EXPIRED)
                seats, expired = seats + row.quantity, expired + 1
        if seats == 0:
            return expired
        params = {"schedule_id": schedule_id, "quantity": seats}
        return expired if run(sql.RELEASE_SEATS, params).rowcount == 1 else None

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
        status=ReservationStatus(row.status),
        occurred_at=row.occurred_at,
    )
