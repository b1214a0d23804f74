"""Quantities changed under races: 50 threads grow and shrink reservations of one schedule."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.backends import Backend
from tests.concurrency.race import outcomes, race
from tests.counters import counter_errors


@pytest.mark.parametrize("round_", range(2))
def test_growing_and_shrinking_never_exceed_capacity(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    service = backend.service()
    pool, sid = new_id("pool"), new_id("s")
    service.create_schedule(pool, 30)
    service.create_schedule(sid, 40, pools=[pool])
    booked = [service.create_reservation(sid, f"user-{n}", quantity=2) for n in range(10)]
    # 40 threads grow (by 1 to 3 seats), 10 shrink to one seat, all at once.
    calls = [
        lambda r=r, n=n: service.change_quantity(r.id, 2 + 1 + n % 3)
        for n, r in enumerate(booked * 4)
    ]
    calls += [lambda r=r: service.change_quantity(r.id, 1) for r in booked]
    counted = outcomes(race(calls))
    assert set(counted) <= {"ok", "CAPACITY_EXCEEDED"}, counted
    schedule, shared = service.get_schedule(sid), service.get_schedule(pool)
    assert schedule.reserved <= 30
    assert shared.reserved == schedule.reserved
    assert counter_errors(service, [sid]) == []
