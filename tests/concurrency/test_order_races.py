"""Orders and pools under races on every backend: all or nothing, no deadlock, no oversell."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reservation_core import OrderLine, ReservationService
from tests.backends import Backend
from tests.concurrency.race import outcomes, race
from tests.counters import counter_errors

ROUNDS = 2


def _no_retry(backend: Backend) -> ReservationService:
    """A service that never retries: a deadlock would come out as ``CONCURRENCY_CONFLICT``.

    SQLite has one writer, whose waits end in "database is locked" after the busy
    timeout rather than in a deadlock: its services keep their retries.
    """
    if backend.name.removeprefix("async-") == "sqlite":
        return backend.service()  # type: ignore[no-any-return]
    return backend.service(max_attempts=1)  # type: ignore[no-any-return]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_overlapping_orders_in_opposite_line_orders_never_deadlock_or_oversell(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    """100 threads of 2-line orders over three schedules sharing a pool, lines both ways."""
    service = _no_retry(backend)
    pool, first, second, third = (new_id(name) for name in ("pool", "x", "y", "z"))
    service.create_schedule(pool, 40)
    for sid in (first, second, third):
        service.create_schedule(sid, 25, pools=[pool])
    pairs = [(first, second), (second, first), (second, third), (third, first)]
    calls = [
        lambda n=n: service.create_order(
            f"user-{n}", [OrderLine(pairs[n % 4][0]), OrderLine(pairs[n % 4][1], quantity=1)]
        )
        for n in range(100)
    ]
    results = race(calls)
    counted = outcomes(results)
    assert set(counted) <= {"ok", "CAPACITY_EXCEEDED"}, counted
    assert counted["ok"] == 20  # the pool's 40 seats, two per order
    booked = [lines for lines in results if isinstance(lines, tuple)]
    assert all(len({r.order_id for r in lines}) == 1 for lines in booked)
    assert service.get_schedule(pool).reserved == 40
    assert counter_errors(service, [first, second, third]) == []


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_orders_racing_single_bookings_and_cancels_keep_every_count(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    """Orders, single bookings on a pooled schedule and on the pool, and cancels, at once."""
    service = _no_retry(backend)
    pool, first, second = new_id("pool"), new_id("a"), new_id("b")
    service.create_schedule(pool, 30)
    service.create_schedule(first, 20, pools=[pool])
    service.create_schedule(second, 20)
    early = [service.create_reservation(first, f"early-{n}") for n in range(10)]
    calls: list[Callable[[], object]] = []
    for n in range(30):
        calls.append(
            lambda n=n: service.create_order(
                f"buyer-{n}", [OrderLine(second), OrderLine(first)][:: 1 if n % 2 else -1]
            )
        )
        calls.append(lambda n=n: service.create_reservation(first, f"single-{n}"))
        calls.append(lambda n=n: service.create_reservation(pool, f"walk-in-{n}"))
    calls += [lambda r=r: service.cancel_reservation(r.id) for r in early]
    counted = outcomes(race(calls))
    assert set(counted) <= {"ok", "CAPACITY_EXCEEDED"}, counted
    assert counter_errors(service, [first, second]) == []
    assert service.get_schedule(pool).reserved <= 30
    assert service.get_schedule(first).reserved <= 20


def test_hundred_bookings_on_a_pooled_schedule_for_ten_pool_seats(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    service = backend.service()
    pool, first, second = new_id("pool"), new_id("a"), new_id("b")
    service.create_schedule(pool, 10)
    service.create_schedule(first, 100, pools=[pool])
    service.create_schedule(second, 100, pools=[pool])
    targets = [first, second]
    results = race(
        [lambda n=n: service.create_reservation(targets[n % 2], f"user-{n}") for n in range(100)]
    )
    assert outcomes(results) == {"ok": 10, "CAPACITY_EXCEEDED": 90}
    assert service.get_schedule(pool).reserved == 10
    assert counter_errors(service, targets) == []
