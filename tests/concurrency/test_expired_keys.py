"""Requests racing under an idempotency key that has just expired: exactly one wins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from reservation_core import BusinessException, ReservationService, ReservationStatus
from tests.backends import Backend
from tests.clock import Clock
from tests.concurrency.race import outcomes, race

ROUNDS = 3


def _expired_key(
    backend: Backend, new_id: Callable[[str], str], user: str, quantity: int
) -> tuple[ReservationService, str, str, str]:
    """A schedule and a key whose booking was cancelled, then the key expired."""
    clock = Clock()
    service = backend.service(clock=clock, idempotency_ttl=timedelta(minutes=5))
    sid, key = new_id("s"), new_id("key")
    service.create_schedule(sid, 10)
    first = service.create_reservation(sid, user, quantity=quantity, idempotency_key=key)
    service.cancel_reservation(first.id)
    clock.now += timedelta(minutes=6)  # the key has expired: the next request books anew
    return service, sid, key, first.id


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_identical_repeats_after_expiry_book_once_and_replay(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    service, sid, key, first_id = _expired_key(backend, new_id, "alice", 2)

    results = race(
        [lambda: service.create_reservation(sid, "alice", quantity=2, idempotency_key=key)] * 20
    )
    assert outcomes(results) == {"ok": 20}
    assert len({r.id for r in results}) == 1
    assert results[0].id != first_id
    assert results[0].status is ReservationStatus.CONFIRMED
    tally = backend.tally(sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (2, 1, True)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_different_requests_under_an_expired_key_book_once(
    backend: Backend, new_id: Callable[[str], str], round_: int
) -> None:
    service, sid, key, _ = _expired_key(backend, new_id, "bob", 1)

    results = race(
        [
            lambda: service.create_reservation(sid, "bob", quantity=1, idempotency_key=key),
            lambda: service.create_reservation(sid, "bob", quantity=3, idempotency_key=key),
        ]
        * 5
    )
    booked = {r.id for r in results if not isinstance(r, BusinessException)}
    assert len(booked) == 1
    counted = outcomes(results)
    assert counted["ok"] == 5
    assert counted["IDEMPOTENCY_KEY_REUSED"] == 5
    tally = backend.tally(sid)
    assert (tally.confirmed_count, tally.consistent) == (1, True)
    assert tally.reserved in (1, 3)
