"""The demo's tour of holds: hold, confirm, a hold that lapses, the seat sold again.

The demo cannot wait ten minutes for a hold to lapse: its service reads a clock the tour
moves forward, as a test would. Nothing else differs from a real service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from reservation_core import BusinessException, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork

HOLD_FOR = timedelta(minutes=10)
CAPACITY = 2


class _MovableClock:
    """The real time plus however far the tour has moved it."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


def tour(engine: Engine, schedule_id: str) -> list[dict[str, Any]]:
    """Run the tour on a new schedule of :data:`CAPACITY` seats; one entry per step."""
    clock = _MovableClock()
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine), clock=clock)
    service.create_schedule(schedule_id, CAPACITY)
    steps: list[dict[str, Any]] = []
    ids: dict[str, str] = {}

    def step(action: str, call: Callable[[], Any], expected: str, user: str = "") -> None:
        try:
            result = call()
            got = str(result.status)
            ids.setdefault(user, result.id)
        except BusinessException as error:
            got = str(error.code)
        steps.append(
            {"action": action, "outcome": got, "expected": expected, "ok": got == expected}
        )

    step("hold ann (10 min)", lambda: service.hold_reservation(schedule_id, "ann"), "HELD", "ann")
    step("confirm ann", lambda: service.confirm_reservation(ids.get("ann", "")), "CONFIRMED")
    step("hold bob (10 min)", lambda: service.hold_reservation(schedule_id, "bob"), "HELD", "bob")
    step(
        "book cy: full", lambda: service.create_reservation(schedule_id, "cy"), "CAPACITY_EXCEEDED"
    )
    clock.ahead += HOLD_FOR
    step(
        "confirm bob, 10 min later",
        lambda: service.confirm_reservation(ids.get("bob", "")),
        "HOLD_EXPIRED",
    )
    step("book cy: bob's seat", lambda: service.create_reservation(schedule_id, "cy"), "CONFIRMED")
    return steps
