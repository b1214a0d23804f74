"""Repositories over the prebuilt statements of :mod:`._statements` (private)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from reservation_core.domain import Reservation, ReservationEvent, ReservationStatus, Schedule
from reservation_core.ports import (
    DuplicateReservationError,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    TransientConflict,
)

from . import _statements as sql
from ._runner import Runner


def _reservation(row: Row[Any]) -> Reservation:
    return Reservation(
        id=row.id,
        schedule_id=row.schedule_id,
        user_id=row.user_id,
        quantity=row.quantity,
        status=ReservationStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class _Repository:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner


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


class SqlReservations(_Repository):
    def add(self, reservation: Reservation) -> bool:
        booked: list[bool] = []
        if not self._runner.unless_taken(lambda: booked.append(self._runner.book(reservation))):
            raise DuplicateReservationError((reservation.schedule_id, reservation.user_id))
        return booked[0]

    def get(self, reservation_id: str) -> Reservation | None:
        row = self._runner.execute(sql.RESERVATION, {"reservation_id": reservation_id}).first()
        return None if row is None else _reservation(row)

    def find_confirmed(self, schedule_id: str, user_id: str) -> Reservation | None:
        params = {"schedule_id": schedule_id, "user_id": user_id}
        row = self._runner.execute(sql.CONFIRMED, params).first()
        return None if row is None else _reservation(row)

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
