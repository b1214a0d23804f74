"""Holds under races on every backend: many threads released at once by a barrier."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from reservation_core import ReservationStatus
from tests.backends import Backend
from tests.clock import Clock
from tests.concurrency.race import outcomes, race

ROUNDS = 3


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_hundred_holds_for_ten_seats(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    service = backend.service()
    sid = new_id("hot")
    service.create_schedule(sid, 10)
    results = race([lambda n=n: service.hold_reservation(sid, f"user-{n}") for n in range(100)])
    assert outcomes(results) == {"ok": 10, "CAPACITY_EXCEEDED": 90}
    tally = backend.tally(sid)
    assert (tally.reserved, tally.held_count, tally.confirmed_count) == (10, 10, 0)
    assert tally.consistent


@pytest.mark.parametrize("round_", range(4))
def test_confirm_racing_expiry_on_one_hold_has_one_winner(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    """Confirms timed just before the deadline race confirms and sweeps just after it."""
    before, after = Clock(), Clock()
    after.now = before.now + timedelta(minutes=10)
    before.now = after.now - timedelta(microseconds=1)
    sid = new_id("race")
    early, late = backend.service(clock=Clock()), backend.service(clock=after)
    early.create_schedule(sid, 3)
    hold = early.hold_reservation(sid, "alice", quantity=2, hold_for=timedelta(minutes=10))
    assert hold.expires_at == after.now
    confirming = backend.service(clock=before)
    # Interleaved, so that neither kind of call tends to start first.
    calls = [
        lambda: confirming.confirm_reservation(hold.id),
        lambda: late.confirm_reservation(hold.id),
        late.release_expired_holds,
    ] * 4
    results = race(calls)
    confirm_results = [r for n, r in enumerate(results) if n % 3 != 2]
    confirms = outcomes(confirm_results)
    final = early.get_reservation(hold.id)
    tally = backend.tally(sid)
    assert tally.consistent
    if final.status is ReservationStatus.CONFIRMED:  # the confirm won: every confirm agrees
        assert confirms == {"ok": 8}
        assert {r.updated_at for r in confirm_results} == {final.updated_at}
        assert tally.reserved == 2
    else:  # the expiry won: no confirm succeeded, the seats are back
        assert final.status is ReservationStatus.EXPIRED
        assert confirms == {"HOLD_EXPIRED": 8}
        assert tally.reserved == 0


def test_sweeps_racing_bookings_never_overbook(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    """Five lapsed holds, five live ones, ten seats: exactly five of forty bookings win."""
    start, later = Clock(), Clock()
    later.now = start.now + timedelta(minutes=5)
    sid = new_id("sweep")
    holder = backend.service(clock=start)
    holder.create_schedule(sid, 10)
    lapsed = [
        holder.hold_reservation(sid, f"gone-{n}", hold_for=timedelta(minutes=5)) for n in range(5)
    ]
    live = [
        holder.hold_reservation(sid, f"kept-{n}", hold_for=timedelta(hours=1)) for n in range(5)
    ]
    service = backend.service(clock=later)
    calls = [lambda n=n: service.create_reservation(sid, f"buyer-{n}") for n in range(40)]
    calls += [service.release_expired_holds] * 6
    results = race(calls)
    assert outcomes(results[:40]) == {"ok": 5, "CAPACITY_EXCEEDED": 35}
    statuses = {service.get_reservation(r.id).status for r in lapsed}
    assert statuses == {ReservationStatus.EXPIRED}
    assert {service.get_reservation(r.id).status for r in live} == {ReservationStatus.HELD}
    tally = backend.tally(sid)
    assert (tally.reserved, tally.held_count, tally.confirmed_count) == (10, 5, 5)
    assert tally.consistent
