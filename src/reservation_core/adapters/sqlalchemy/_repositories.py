"""Repositories as prebuilt SQLAlchemy Core statements (private).

Statements are built once at import; SQLAlchemy caches their compiled form, so the hot
path pays only for parameters and the round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, and_, bindparam, delete, insert, select, update
from sqlalchemy.sql import Executable

from reservation_core.domain import Reservation, ReservationStatus, Schedule
from reservation_core.ports import (
    DuplicateReservationError,
    IdempotencyKeyTaken,
    IdempotencyRecord,
)

from .tables import idempotency_keys, reservations, schedules

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

    from .uow import SqlAlchemyUnitOfWork

_S, _R, _K = schedules.c, reservations.c, idempotency_keys.c

_SCHEDULE = select(_S.id, _S.capacity, _S.reserved).where(_S.id == bindparam("schedule_id"))
_ADD_SCHEDULE = insert(schedules)
_SET_CAPACITY = (
    update(schedules)
    .where(_S.id == bindparam("schedule_id"), _S.reserved <= bindparam("capacity"))
    .values(capacity=bindparam("capacity"))
)
_RELEASE = (
    update(schedules)
    .where(_S.id == bindparam("schedule_id"), _S.reserved >= bindparam("quantity"))
    .values(reserved=_S.reserved - bindparam("quantity"))
)

_RESERVATION_COLUMNS = (
    _R.id,
    _R.schedule_id,
    _R.user_id,
    _R.quantity,
    _R.status,
    _R.created_at,
    _R.updated_at,
)
_RESERVATION = select(*_RESERVATION_COLUMNS).where(_R.id == bindparam("reservation_id"))
_CONFIRMED = select(*_RESERVATION_COLUMNS).where(
    _R.schedule_id == bindparam("schedule_id"),
    _R.confirmed_user_id == bindparam("user_id"),
)
_TRANSITION = (
    update(reservations)
    .where(_R.id == bindparam("reservation_id"), _R.status == bindparam("from_status"))
    .values(status=bindparam("to_status"), updated_at=bindparam("at"))
)

_KEY_WHERE = and_(_K.user_id == bindparam("user_id"), _K.key == bindparam("key"))
_KEY = select(_K.user_id, _K.key, _K.fingerprint, _K.reservation_id, _K.created_at).where(
    _KEY_WHERE
)
_ADD_KEY = insert(idempotency_keys)
_DELETE_KEY = delete(idempotency_keys).where(_KEY_WHERE)
_PURGE_KEYS = delete(idempotency_keys).where(_K.created_at < bindparam("before"))


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
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def _run(self, statement: Executable, params: dict[str, Any]) -> CursorResult[Any]:
        return self._uow.execute(statement, params)

    def _first(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
        return self._uow.execute(statement, params).first()

    def _unless_taken(self, write: Callable[[], object]) -> bool:
        """Run ``write``; ``False`` if a unique constraint refused it."""
        return self._uow.unless_taken(write)


class SqlSchedules(_Repository):
    def add(self, schedule: Schedule) -> bool:
        row = {"id": schedule.id, "capacity": schedule.capacity, "reserved": schedule.reserved}
        return self._unless_taken(lambda: self._run(_ADD_SCHEDULE, row))

    def get(self, schedule_id: str) -> Schedule | None:
        row = self._first(_SCHEDULE, {"schedule_id": schedule_id})
        return None if row is None else Schedule(row.id, row.capacity, row.reserved)

    def set_capacity(self, schedule_id: str, capacity: int) -> bool:
        params = {"schedule_id": schedule_id, "capacity": capacity}
        return self._run(_SET_CAPACITY, params).rowcount == 1

    def release_seats(self, schedule_id: str, quantity: int) -> bool:
        params = {"schedule_id": schedule_id, "quantity": quantity}
        return self._run(_RELEASE, params).rowcount == 1


class SqlReservations(_Repository):
    def add(self, reservation: Reservation) -> bool:
        booked: list[bool] = []
        if not self._unless_taken(lambda: booked.append(self._uow.book(reservation))):
            raise DuplicateReservationError((reservation.schedule_id, reservation.user_id))
        return booked[0]

    def get(self, reservation_id: str) -> Reservation | None:
        row = self._first(_RESERVATION, {"reservation_id": reservation_id})
        return None if row is None else _reservation(row)

    def find_confirmed(self, schedule_id: str, user_id: str) -> Reservation | None:
        row = self._first(_CONFIRMED, {"schedule_id": schedule_id, "user_id": user_id})
        return None if row is None else _reservation(row)

    def try_transition(
        self,
        reservation_id: str,
        from_status: ReservationStatus,
        to_status: ReservationStatus,
        at: datetime,
    ) -> bool:
        params = {
            "reservation_id": reservation_id,
            "from_status": str(from_status),
            "to_status": str(to_status),
            "at": at,
        }
        return self._run(_TRANSITION, params).rowcount == 1


class SqlIdempotencyKeys(_Repository):
    def get(self, user_id: str, key: str) -> IdempotencyRecord | None:
        row = self._first(_KEY, {"user_id": user_id, "key": key})
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
        if not self._unless_taken(lambda: self._run(_ADD_KEY, row)):
            raise IdempotencyKeyTaken((record.user_id, record.key))

    def delete(self, user_id: str, key: str) -> None:
        self._run(_DELETE_KEY, {"user_id": user_id, "key": key})

    def purge(self, created_before: datetime) -> int:
        return self._run(_PURGE_KEYS, {"before": created_before}).rowcount
