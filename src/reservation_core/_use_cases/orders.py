"""The use cases of orders: several schedules booked all or nothing (private)."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import datetime, timedelta

from reservation_core._use_cases._offers import offer_seats
from reservation_core._use_cases._plan import MAX_HOLD, Cases, Plan, Step
from reservation_core._use_cases._rules import (
    drift,
    existing_schedule,
    expire_holds,
    line_refusal,
    new_reservation,
    replay_or_store,
    take_lines,
)
from reservation_core.domain import Action, Reservation, ReservationStatus, transition_target
from reservation_core.domain._booking import lapsed
from reservation_core.domain._validation import (
    check_duration,
    check_id,
    check_instant_after,
    check_lines,
    check_optional_id,
)
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import (
    AbstractUnitOfWork,
    DuplicateReservationError,
    IdempotencyRecord,
    TransientConflict,
)

Lines = tuple[Reservation, ...]


def order_fingerprint(lines: list[tuple[str, int]], hold_for: timedelta | None) -> str:
    """An order request's fingerprint: its lines in order, and its hold (if any)."""
    parts = ["order", *(f"{schedule_id}\x00{quantity}" for schedule_id, quantity in lines)]
    parts.append("" if hold_for is None else f"HELD\x00{hold_for.total_seconds()!r}")
    return hashlib.sha256("\x01".join(parts).encode()).hexdigest()


def owned_order(uow: AbstractUnitOfWork, order_id: str, user_id: str | None) -> Lines:
    """The order's lines, or ``ORDER_NOT_FOUND`` (unknown, or another user's)."""
    lines = tuple(uow.reservations.of_order(order_id))
    if not lines or (user_id is not None and lines[0].user_id != user_id):
        raise BusinessException(ErrorCode.ORDER_NOT_FOUND, details={"order_id": order_id})
    return lines


def moved(lines: Lines, ids: set[str], status: ReservationStatus, now: datetime) -> Lines:
    """The lines as they are once those in ``ids`` moved to ``status`` at ``now``."""
    return tuple(
        dataclasses.replace(line, status=status, updated_at=now) if line.id in ids else line
        for line in lines
    )


class OrderCases(Cases):
    """The use cases of orders."""

    __slots__ = ()

    def create_order(
        self, user_id: object, lines: object, idempotency_key: object, hold_for: object
    ) -> Plan[Lines]:
        uid = check_id("user_id", user_id)
        checked = check_lines(lines)
        key = check_optional_id("idempotency_key", idempotency_key)
        duration = (
            None if hold_for is None else check_duration("hold_for", hold_for, maximum=MAX_HOLD)
        )

        def use_case(uow: AbstractUnitOfWork) -> Lines:
            now = self._now()
            order_id = str(uuid.uuid4())
            expires_at = (
                None if duration is None else check_instant_after("hold_for", now, duration)
            )
            order = tuple(
                new_reservation(
                    schedule_id, uid, quantity, now, expires_at=expires_at, order_id=order_id
                )
                for schedule_id, quantity in checked
            )
            if key is not None:
                record = IdempotencyRecord(
                    uid, key, order_fingerprint(checked, duration), order_id, now
                )

                def found() -> None:  # "not found" outranks key reuse, and names its line
                    for index, (schedule_id, _) in enumerate(checked):
                        try:
                            existing_schedule(uow, schedule_id)
                        except BusinessException as error:
                            error.details["line"] = index
                            raise

                replayed = replay_or_store(
                    uow,
                    record,
                    self._idempotency_ttl,
                    found=found,
                    load=lambda stored_id: tuple(uow.reservations.of_order(stored_id)) or None,
                )
                if replayed is not None:
                    return replayed
            try:
                refused = take_lines(uow, order, now)
            except DuplicateReservationError:  # ruled out under the locks; retry to be sure
                uow.rollback()
                raise TransientConflict("an order's line met an active reservation") from None
            if refused is not None:
                error = line_refusal(uow, refused, order[refused.line])
                error.details["line"] = refused.line
                raise error
            uow.commit()
            return order

        result: Lines = yield Step(use_case)
        return result

    def get_order(self, order_id: object, user_id: object) -> Plan[Lines]:
        oid = check_id("order_id", order_id)
        owner = check_optional_id("user_id", user_id)
        result: Lines = yield Step(lambda uow: owned_order(uow, oid, owner))
        return result

    def confirm_order(self, order_id: object, user_id: object) -> Plan[Lines]:
        oid = check_id("order_id", order_id)
        owner = check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Lines:
            lines = owned_order(uow, oid, owner)
            for line in lines:  # a cancelled or refunded line: nothing changes
                if line.status in (ReservationStatus.CANCELLED, ReservationStatus.REFUNDED):
                    transition_target(Action.CONFIRM, line.status)
            now = self._now()
            held = [line for line in lines if line.status is ReservationStatus.HELD]
            if any(line.status is ReservationStatus.EXPIRED or lapsed(line, now) for line in lines):
                if held:  # the lines share one expires_at: every held line has lapsed
                    uow.schedules.lock([line.schedule_id for line in held])
                    for line in held:
                        expire_holds(uow, line.schedule_id, now)
                    uow.commit()
                details = {"order_id": oid}
                expires_at = lines[0].expires_at
                if expires_at is not None:
                    details["expires_at"] = expires_at.isoformat()
                raise BusinessException(ErrorCode.HOLD_EXPIRED, details=details)
            for line in held:
                if not uow.reservations.confirm_hold(line.id, now):
                    uow.rollback()
                    raise TransientConflict("an order's hold moved under its confirmation")
            uow.commit()
            return moved(lines, {line.id for line in held}, ReservationStatus.CONFIRMED, now)

        result: Lines = yield Step(use_case)
        return result

    def cancel_order(self, order_id: object, user_id: object) -> Plan[Lines]:
        oid = check_id("order_id", order_id)
        owner = check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Lines:
            lines = owned_order(uow, oid, owner)
            active = [line for line in lines if line.status.holds_seats]
            if not active:
                transition_target(Action.CANCEL, lines[0].status)  # raises its error
            now = self._now()
            cancelled = ReservationStatus.CANCELLED
            # Every counter first, in the order of their ids; then each line's seats and
            # status, the compare-and-set alone deciding (as a single cancel).
            uow.schedules.lock([line.schedule_id for line in active])
            waited_for: set[str] = set()
            for line in active:
                waiting = uow.schedules.release_seats(line.schedule_id, line.quantity)
                if not uow.reservations.try_transition(line.id, line.status, cancelled, now):
                    uow.rollback()
                    raise TransientConflict("an order's line moved under its cancellation")
                if waiting is None:
                    raise drift(line.schedule_id)
                if waiting:
                    waited_for.add(line.schedule_id)
            for schedule_id in sorted(waited_for):
                offer_seats(uow, schedule_id, now)
            uow.commit()
            return moved(lines, {line.id for line in active}, cancelled, now)

        result: Lines = yield Step(use_case)
        return result
