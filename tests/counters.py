"""The seat counters' invariant, read through the public API (any backend, sync or async).

For every counter (a schedule, or a pool): ``0 <= reserved <= capacity`` and ``reserved ==
Σ quantity of the HELD and CONFIRMED reservations on it and on every schedule that lists
it as a pool``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reservation_core import ReservationStatus


def active_seats(service: Any, schedule_id: str) -> int:
    """The seats of the schedule's own HELD and CONFIRMED reservations."""
    seats, cursor = 0, None
    while True:
        page = service.list_reservations(schedule_id=schedule_id, limit=200, after=cursor)
        seats += sum(r.quantity for r in page.items if r.status.holds_seats)
        cursor = page.next_cursor
        if cursor is None:
            return seats


def counter_errors(service: Any, schedule_ids: Iterable[str]) -> list[str]:
    """What breaks the invariant among ``schedule_ids`` and their pools; empty when kept.

    Give every schedule that lists one of the pools, or a pool's sum will look short.
    """
    schedules = {sid: service.get_schedule(sid) for sid in schedule_ids}
    for schedule in list(schedules.values()):
        for pool in schedule.pools:
            schedules.setdefault(pool, service.get_schedule(pool))
    own = {sid: active_seats(service, sid) for sid in schedules}
    errors = []
    for sid, schedule in sorted(schedules.items()):
        expected = own[sid] + sum(own[x.id] for x in schedules.values() if sid in x.pools)
        if not 0 <= schedule.reserved <= schedule.capacity:
            errors.append(f"{sid}: reserved {schedule.reserved} of {schedule.capacity}")
        if schedule.reserved != expected:
            errors.append(f"{sid}: reserved {schedule.reserved}, active seats {expected}")
    return errors


HELD, CONFIRMED = ReservationStatus.HELD, ReservationStatus.CONFIRMED
