"""run_housekeeping: lapsed holds, expired keys, acknowledged events — on every backend.

The suites share their databases (and their consumers, which never acknowledge this
test's events), so counts are lower bounds here; exact counts, and purges of events every
consumer acknowledged, are checked on databases of their own in
``tests/concurrency/test_housekeeping_processes.py`` and on the in-memory store below.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from reservation_core import (
    BusinessException,
    ErrorCode,
    HousekeepingReport,
    ReservationService,
    ReservationStatus,
)
from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from tests.backends import Backend
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(backend: Backend, clock: Clock) -> ReservationService:
    return backend.service(clock=clock)


def test_lapsed_holds_expire_in_batches_and_only_they(
    service: ReservationService, backend: Backend, clock: Clock, new_id: Callable[[str], str]
) -> None:
    sid, other = new_id("s"), new_id("s")
    service.create_schedule(sid, 10)
    service.create_schedule(other, 10)
    lapsing = [
        service.hold_reservation(sid, f"u{n}", hold_for=timedelta(minutes=1)) for n in range(5)
    ]
    lapsing.append(service.hold_reservation(other, "u0", quantity=3, hold_for=timedelta(minutes=1)))
    lasting = service.hold_reservation(sid, "late", hold_for=timedelta(hours=1))
    confirmed = service.create_reservation(sid, "paid")
    clock.now += timedelta(minutes=2)
    report = service.run_housekeeping(batch_size=2)
    assert isinstance(report, HousekeepingReport)
    assert report.holds_expired >= len(lapsing)
    # Five holds of one schedule, at most two per transaction: at least three there.
    assert report.transactions >= 3 + 1 + 2  # + the rounds' reads and the purges
    for hold in lapsing:
        expired = service.get_reservation(hold.id)
        assert (expired.status, expired.updated_at) == (ReservationStatus.EXPIRED, clock.now)
    assert service.get_reservation(lasting.id) == lasting
    assert service.get_reservation(confirmed.id) == confirmed
    assert (service.get_schedule(sid).reserved, service.get_schedule(other).reserved) == (2, 0)
    assert backend.tally(sid).consistent
    assert backend.tally(other).consistent


def test_expired_idempotency_keys_are_purged_and_fresh_ones_kept(
    backend: Backend, clock: Clock, new_id: Callable[[str], str]
) -> None:
    service = backend.service(clock=clock, idempotency_ttl=timedelta(hours=1))
    sid, old_key, new_key = new_id("s"), new_id("k"), new_id("k")
    service.create_schedule(sid, 5)
    first = service.create_reservation(sid, "ann", idempotency_key=old_key)
    clock.now += timedelta(hours=2)
    kept = service.create_reservation(sid, "bob", idempotency_key=new_key)
    assert service.run_housekeeping(batch_size=1).idempotency_keys_purged >= 1
    # The fresh key still replays; the purged one is free for another request.
    assert service.create_reservation(sid, "bob", idempotency_key=new_key) == kept
    service.cancel_reservation(first.id)
    again = service.create_reservation(sid, "ann", quantity=2, idempotency_key=old_key)
    assert again.id != first.id


def test_an_event_a_consumer_has_not_acknowledged_is_kept(
    service: ReservationService, clock: Clock, new_id: Callable[[str], str]
) -> None:
    consumer, sid = new_id("consumer"), new_id("s")
    service.create_schedule(sid, 5)
    booking = service.create_reservation(sid, "ann")
    while service.claim_events(consumer, limit=1000):  # claimed, never acknowledged
        pass
    clock.now += timedelta(days=30)
    service.run_housekeeping(event_retention=timedelta(days=1))
    clock.now += timedelta(minutes=1)  # past the lease: claimed again, so still there
    again = []
    while batch := service.claim_events(consumer, limit=1000):
        again += batch
    assert [e.reservation_id for e in again if e.schedule_id == sid] == [booking.id]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"event_retention": timedelta(0)}, "event_retention"),
        ({"event_retention": 86400}, "event_retention"),
        ({"event_retention": timedelta(days=36_501)}, "event_retention"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"batch_size": 10_001}, "batch_size"),
    ],
)
def test_bad_arguments_are_validation_errors(
    service: ReservationService, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(BusinessException) as info:
        service.run_housekeeping(**arguments)
    assert (info.value.code, info.value.details["field"]) == (ErrorCode.VALIDATION_ERROR, field)


# -- the event purge's rule, where the test owns every consumer --------------------------------


def test_events_go_once_every_consumer_acknowledged_them_and_the_retention_passed() -> None:
    clock = Clock()
    store = InMemoryStore()
    service = ReservationService(lambda: InMemoryUnitOfWork(store), clock=clock)
    service.create_schedule("s", 5)
    booking = service.create_reservation("s", "ann")
    for consumer in ("emails", "refunds"):
        assert len(service.claim_events(consumer)) == 1
    service.ack_events("emails", [1])
    clock.now += timedelta(days=8)
    assert service.run_housekeeping().events_purged == 0  # "refunds" has not acknowledged
    service.ack_events("refunds", [1])
    recent = service.cancel_reservation(booking.id)  # a second event, too recent to go
    assert service.run_housekeeping(event_retention=timedelta(days=7)).events_purged == 1
    assert [e.id for e in store.events.values()] == [2]
    assert not [slot for slot in store.deliveries if slot[1] == 1]
    assert store.events[2].occurred_at == recent.updated_at


def test_with_no_consumer_known_events_go_after_the_retention() -> None:
    clock = Clock()
    store = InMemoryStore()
    service = ReservationService(lambda: InMemoryUnitOfWork(store), clock=clock)
    service.create_schedule("s", 5)
    service.create_reservation("s", "ann")
    clock.now += timedelta(days=2)
    assert service.run_housekeeping(event_retention=timedelta(days=3)).events_purged == 0
    clock.now += timedelta(days=2)
    report = service.run_housekeeping(event_retention=timedelta(days=3), batch_size=1)
    assert (report.events_purged, store.events) == (1, {})
