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

from collections.abc import Sequence
from datetime import datetime

from reservation_core.domain._values import Reservation, ReservationStatus


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
