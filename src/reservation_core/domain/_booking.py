"""Whether a booking fits: the rule every path that takes seats decides by (private).

One booking fits when its schedule exists, its user holds no active (``HELD`` or
``CONFIRMED``) reservation there, and ``quantity`` seats remain. A group of bookings is
decided as one by one in arrival order would decide it. The in-memory store and the SQL
adapter's generic group path call these functions; the fast paths that make the same
decision in SQL (PostgreSQL's group statement, MariaDB's group script, the conditional
``UPDATE`` of a single booking) are held to it by one test that feeds every path the same
cases (tests/unit/test_booking_decisions.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from reservation_core.domain._values import Reservation, ReservationStatus, Schedule


def fits(quantity: int, remaining: int | None) -> bool:
    """Whether ``quantity`` seats fit in ``remaining`` (``None``: the schedule is missing)."""
    return remaining is not None and 0 <= quantity <= remaining


def decide_group(
    group: Sequence[Reservation], free: dict[str, int], taken: set[tuple[str, str]]
) -> list[bool]:
    """Which of a group's members are booked, as one by one in list order would book them.

    ``free`` holds each locked schedule's seats left (a schedule missing from it does not
    exist), ``taken`` the ``(schedule_id, user_id)`` pairs already active; both are updated
    with the members booked.
    """
    booked: list[bool] = []
    for reservation in group:
        slot = (reservation.schedule_id, reservation.user_id)
        seats = free.get(reservation.schedule_id)
        fit = slot not in taken and fits(reservation.quantity, seats)
        if fit:
            free[reservation.schedule_id] = (seats or 0) - reservation.quantity
            taken.add(slot)
        booked.append(fit)
    return booked


def lapsed(reservation: Reservation, now: datetime) -> bool:
    """Whether ``reservation`` is a hold whose ``expires_at`` has passed at ``now``."""
    expires_at = reservation.expires_at
    return (
        reservation.status is ReservationStatus.HELD
        and expires_at is not None
        and expires_at <= now
    )


class LineRefusal(NamedTuple):
    """Why the line at index ``line`` of an order cannot be booked.

    ``reason`` is ``"missing"`` (its schedule does not exist), ``"duplicate"`` (its user
    is active there) or ``"short"`` (``counter``, the schedule itself or one of its pools,
    has ``remaining`` seats, fewer than the line asks for). ``pooled``: the line's
    schedule has pools.
    """

    line: int
    reason: str
    counter: str
    remaining: int
    pooled: bool = False


def counters_of(schedule: Schedule) -> tuple[str, ...]:
    """The counters a seat on ``schedule`` counts against: itself, then its pools (sorted)."""
    return (schedule.id, *schedule.pools)


def decide_lines(
    lines: Sequence[Reservation], counters: dict[str, Schedule], taken: set[tuple[str, str]]
) -> LineRefusal | None:
    """Whether every line of an order fits, all of them together; else the first that does not.

    ``counters`` holds the lines' schedules and their pools as locked (a line's schedule
    missing from it does not exist), ``taken`` the ``(schedule_id, user_id)`` pairs
    already active. Lines are decided in the order given, each after the seats of the
    lines before it (two lines may share a pool); within a line, "missing" outranks
    "duplicate", which outranks "short", and the schedule's own count is checked before
    its pools', in sorted order.
    """
    free = {counter_id: schedule.remaining for counter_id, schedule in counters.items()}
    for index, line in enumerate(lines):
        schedule = counters.get(line.schedule_id)
        if schedule is None:
            return LineRefusal(index, "missing", line.schedule_id, 0)
        if (line.schedule_id, line.user_id) in taken:
            return LineRefusal(index, "duplicate", line.schedule_id, 0)
        for counter in counters_of(schedule):
            if not fits(line.quantity, free.get(counter)):
                return LineRefusal(
                    index, "short", counter, free.get(counter, 0), bool(schedule.pools)
                )
        for counter in counters_of(schedule):
            free[counter] -= line.quantity
    return None


def seat_changes(
    reservations: Iterable[Reservation], counters: dict[str, Schedule], sign: int
) -> dict[str, int]:
    """How many seats each counter gains (``sign`` 1) or loses (-1) with ``reservations``."""
    changes: dict[str, int] = {}
    for reservation in reservations:
        for counter in counters_of(counters[reservation.schedule_id]):
            changes[counter] = changes.get(counter, 0) + sign * reservation.quantity
    return changes
