"""Waiting lists under races: freed seats go to waiting entries, never to direct bookings."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reservation_core import ReservationStatus, WaitlistStatus
from tests.backends import Backend
from tests.concurrency.race import outcomes, race
from tests.counters import counter_errors


@pytest.mark.parametrize("round_", range(2))
def test_cancels_racing_direct_bookings_give_every_seat_to_the_waiting_list(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    """A sold-out schedule, 30 waiting; 20 threads cancel while 20 threads book directly."""
    service = backend.service()
    sid = new_id("hot")
    service.create_schedule(sid, 20)
    booked = [service.create_reservation(sid, f"booker-{n}") for n in range(20)]
    entries = [service.join_waitlist(sid, f"waiter-{n}") for n in range(30)]
    calls: list[Callable[[], object]] = []
    for n in range(20):
        calls.append(lambda r=booked[n]: service.cancel_reservation(r.id))
        calls.append(lambda n=n: service.create_reservation(sid, f"walk-in-{n}"))
    results = race(calls)
    direct = outcomes(results[1::2])
    assert direct == {"CAPACITY_EXCEEDED": 20}, direct  # every freed seat had a taker
    assert outcomes(results[0::2]) == {"ok": 20}
    states = [service.get_waitlist_entry(e.id) for e in entries]
    offered = [e for e in states if e.status is WaitlistStatus.OFFERED]
    assert [e.user_id for e in offered] == [f"waiter-{n}" for n in range(20)]  # join order
    assert [e.position for e in states if e.status is WaitlistStatus.WAITING] == list(range(1, 11))
    for entry in offered:  # exactly one HELD reservation per offer
        hold = service.get_reservation(entry.reservation_id or "")
        assert (hold.status, hold.user_id) == (ReservationStatus.HELD, entry.user_id)
    schedule = service.get_schedule(sid)
    assert (schedule.reserved, schedule.waitlisted) == (20, 30)
    assert counter_errors(service, [sid]) == []
