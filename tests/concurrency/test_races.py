"""Races on every backend: many threads released at once by a barrier, never sleeps."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from reservation_core import BusinessException, ReservationStatus
from tests.backends import Backend
from tests.concurrency.race import outcomes, race

ROUNDS = 3


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_hundred_requests_for_ten_seats(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    service = backend.service()
    sid = new_id("hot")
    service.create_schedule(sid, 10)
    results = race([lambda n=n: service.create_reservation(sid, f"user-{n}") for n in range(100)])
    assert outcomes(results) == {"ok": 10, "CAPACITY_EXCEEDED": 90}
    tally = backend.tally(sid)
    assert (tally.reserved, tally.confirmed_count) == (10, 10)
    assert tally.consistent


def test_quantities_never_overbook(backend: Backend, new_id: Callable[[str], str]) -> None:
    service = backend.service()
    sid = new_id("hot")
    service.create_schedule(sid, 25)
    rng = random.Random(7)
    quantities = [rng.randint(1, 4) for _ in range(60)]
    results = race(
        [
            lambda n=n, q=q: service.create_reservation(sid, f"u{n}", quantity=q)
            for n, q in enumerate(quantities)
        ]
    )
    taken = sum(r.quantity for r in results if not isinstance(r, BusinessException))
    tally = backend.tally(sid)
    assert tally.consistent
    assert tally.reserved == taken <= 25
    assert 25 - taken < 4 or outcomes(results)["CAPACITY_EXCEEDED"] == 0


@pytest.mark.parametrize(
    ("method", "loser_code"),
    [
        ("cancel_reservation", "RESERVATION_ALREADY_CANCELLED"),
        ("refund_reservation", "ALREADY_REFUNDED"),
    ],
)
def test_concurrent_double_release_returns_seats_once(
    backend: Backend, new_id: Callable[[str], str], method: str, loser_code: str
) -> None:
    service = backend.service()
    sid = new_id("s")
    service.create_schedule(sid, 5)
    reservation = service.create_reservation(sid, "alice", quantity=3)
    service.create_reservation(sid, "bob", quantity=2)
    results = race([lambda: getattr(service, method)(reservation.id)] * 20)
    assert outcomes(results) == {"ok": 1, loser_code: 19}
    tally = backend.tally(sid)
    assert (tally.reserved, tally.consistent) == (2, True)


def test_cancel_against_refund_one_wins(backend: Backend, new_id: Callable[[str], str]) -> None:
    service = backend.service()
    sid = new_id("s")
    service.create_schedule(sid, 30)
    reservations = [service.create_reservation(sid, f"u{n}") for n in range(10)]
    calls = []
    for r in reservations:
        calls += [lambda r=r: service.cancel_reservation(r.id)] * 2
        calls += [lambda r=r: service.refund_reservation(r.id)] * 2
    results = race(calls)
    counts = outcomes(results)
    assert counts["ok"] == 10
    assert sum(counts.values()) == 40
    assert set(counts) <= {
        "ok",
        "RESERVATION_ALREADY_CANCELLED",
        "ALREADY_REFUNDED",
        "INVALID_STATE_TRANSITION",
    }
    for r in reservations:
        assert service.get_reservation(r.id).status is not ReservationStatus.CONFIRMED
    tally = backend.tally(sid)
    assert (tally.reserved, tally.consistent) == (0, True)


def test_same_user_without_key_gets_one_reservation(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    service = backend.service()
    sid = new_id("s")
    service.create_schedule(sid, 50)
    results = race([lambda: service.create_reservation(sid, "alice")] * 30)
    assert outcomes(results) == {"ok": 1, "DUPLICATE_RESERVATION": 29}
    (winner,) = [r for r in results if not isinstance(r, BusinessException)]
    assert all(
        r.details == {"reservation_id": winner.id}
        for r in results
        if isinstance(r, BusinessException)
    )
    assert backend.tally(sid).reserved == 1


def test_same_idempotency_key_gives_one_reservation(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    service = backend.service()
    sid, key = new_id("s"), new_id("k")
    service.create_schedule(sid, 50)
    results = race(
        [lambda: service.create_reservation(sid, "alice", quantity=2, idempotency_key=key)] * 30
    )
    assert outcomes(results) == {"ok": 30}
    assert len({r.id for r in results}) == 1
    tally = backend.tally(sid)
    assert (tally.reserved, tally.confirmed_count) == (2, 1)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_mixed_storm_keeps_the_invariant(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    service = backend.service()
    schedules = [new_id("storm") for _ in range(3)]
    for sid in schedules:
        service.create_schedule(sid, 8)
    seeded = [service.create_reservation(sid, f"seed-{n}") for sid in schedules for n in range(4)]
    rng = random.Random(round_)
    calls: list[Callable[[], object]] = []
    for n in range(80):
        sid = rng.choice(schedules)
        target = rng.choice(seeded)
        calls.append(
            rng.choice(
                [
                    lambda sid=sid, n=n: service.create_reservation(
                        sid, f"u{n % 12}", quantity=1 + n % 3
                    ),
                    lambda sid=sid, n=n: service.create_reservation(
                        sid, f"k{n % 5}", idempotency_key=f"key-{n % 4}"
                    ),
                    lambda t=target: service.cancel_reservation(t.id),
                    lambda t=target: service.refund_reservation(t.id),
                    lambda sid=sid, n=n: service.change_capacity(sid, 4 + n % 10),
                ]
            )
        )
    race(calls)
    for sid in schedules:
        assert backend.tally(sid).consistent, (sid, backend.tally(sid))
