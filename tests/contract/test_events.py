"""Every change has exactly one event; consumers claim, acknowledge and re-claim them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from reservation_core import (
    BusinessException,
    ErrorCode,
    ReservationEvent,
    ReservationService,
    ReservationStatus,
)
from tests.backends import Backend
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(backend: Backend, clock: Clock) -> ReservationService:
    return backend.service(clock=clock)


def drain(service: ReservationService, consumer: str) -> list[ReservationEvent]:
    """Everything the consumer can claim now (other tests' events included)."""
    claimed: list[ReservationEvent] = []
    while batch := service.claim_events(consumer, limit=1000):
        claimed += batch
    return claimed


def mine(events: list[ReservationEvent], schedule_id: str) -> list[tuple[str, str]]:
    return [(e.reservation_id, e.type) for e in events if e.schedule_id == schedule_id]


def test_each_change_has_one_event_and_refusals_none(
    service: ReservationService, new_id: Callable[[str], str], clock: Clock
) -> None:
    consumer, sid = new_id("consumer"), new_id("s")
    service.create_schedule(sid, 2)
    first = service.create_reservation(sid, "u1", quantity=2)
    for refused in (
        lambda: service.create_reservation(sid, "u2"),  # capacity
        lambda: service.create_reservation(sid, "u1"),  # duplicate
        lambda: service.refund_reservation("no-such-reservation"),
    ):
        with pytest.raises(BusinessException):
            refused()
    clock.now += timedelta(minutes=1)
    service.cancel_reservation(first.id)
    with pytest.raises(BusinessException):
        service.cancel_reservation(first.id)  # already cancelled
    second = service.create_reservation(sid, "u2")
    clock.now += timedelta(minutes=1)
    service.refund_reservation(second.id)

    events = [e for e in drain(service, consumer) if e.schedule_id == sid]
    assert [(e.reservation_id, e.type, e.status) for e in events] == [
        (first.id, "reservation.confirmed", ReservationStatus.CONFIRMED),
        (first.id, "reservation.cancelled", ReservationStatus.CANCELLED),
        (second.id, "reservation.confirmed", ReservationStatus.CONFIRMED),
        (second.id, "reservation.refunded", ReservationStatus.REFUNDED),
    ]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[0].quantity == 2
    assert events[0].user_id == "u1"
    assert events[0].occurred_at == first.created_at
    assert events[1].occurred_at == first.created_at + timedelta(minutes=1)


def test_acknowledged_events_are_not_claimed_again(
    service: ReservationService, new_id: Callable[[str], str], clock: Clock
) -> None:
    consumer, sid = new_id("consumer"), new_id("s")
    service.create_schedule(sid, 5)
    booking = service.create_reservation(sid, "u1")
    claimed = drain(service, consumer)
    assert mine(claimed, sid) == [(booking.id, "reservation.confirmed")]
    assert service.ack_events(consumer, [e.id for e in claimed]) == len(claimed)
    assert service.ack_events(consumer, [e.id for e in claimed]) == 0  # already

    service.cancel_reservation(booking.id)
    clock.now += timedelta(hours=1)  # leases long expired: only unacknowledged come back
    assert mine(drain(service, consumer), sid) == [(booking.id, "reservation.cancelled")]


def test_an_unacknowledged_event_is_claimed_again_once_its_lease_runs_out(
    service: ReservationService, new_id: Callable[[str], str], clock: Clock
) -> None:
    consumer, sid = new_id("consumer"), new_id("s")
    service.create_schedule(sid, 5)
    booking = service.create_reservation(sid, "u1")
    assert mine(drain(service, consumer), sid) == [(booking.id, "reservation.confirmed")]
    clock.now += timedelta(seconds=29)
    assert mine(drain(service, consumer), sid) == []  # leased: nobody else of it gets it
    clock.now += timedelta(seconds=2)
    again = drain(service, consumer)
    assert mine(again, sid) == [(booking.id, "reservation.confirmed")]  # at least once
    service.ack_events(consumer, [e.id for e in again])


def test_every_consumer_gets_every_event(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    refunds, emails, sid = new_id("refunds"), new_id("emails"), new_id("s")
    service.create_schedule(sid, 5)
    booking = service.create_reservation(sid, "u1")
    service.refund_reservation(booking.id)
    expected = [(booking.id, "reservation.confirmed"), (booking.id, "reservation.refunded")]
    first = drain(service, refunds)
    service.ack_events(refunds, [e.id for e in first])
    assert mine(first, sid) == expected
    assert mine(drain(service, emails), sid) == expected


def test_the_limit_bounds_a_claim(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    consumer, sid = new_id("consumer"), new_id("s")
    service.create_schedule(sid, 10)
    for n in range(3):
        service.create_reservation(sid, f"u{n}")
    drain(service, consumer)  # everything older
    for n in range(3, 6):
        service.create_reservation(sid, f"u{n}")
    assert len(service.claim_events(consumer, limit=2)) == 2
    assert len(service.claim_events(consumer, limit=2)) == 1
    assert service.claim_events(consumer, limit=2) == []


def test_purge_deletes_only_old_events(
    service: ReservationService, new_id: Callable[[str], str], clock: Clock
) -> None:
    consumer, sid = new_id("consumer"), new_id("s")
    service.create_schedule(sid, 5)
    old = service.create_reservation(sid, "u1")
    clock.now += timedelta(days=10)
    recent = service.create_reservation(sid, "u2")
    assert service.purge_events(timedelta(days=5)) >= 1
    assert mine(drain(service, consumer), sid) == [(recent.id, "reservation.confirmed")]
    assert service.get_reservation(old.id) == old  # the reservation itself stays


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.claim_events(""), "consumer"),
        (lambda s: s.claim_events("c", limit=0), "limit"),
        (lambda s: s.claim_events("c", limit=True), "limit"),
        (lambda s: s.claim_events("c", limit=10_001), "limit"),
        (lambda s: s.claim_events("c", lease=timedelta(0)), "lease"),
        (lambda s: s.claim_events("c", lease=30), "lease"),
        (lambda s: s.ack_events("c", "123"), "event_ids"),
        (lambda s: s.ack_events("c", [1, True]), "event_ids"),
        (lambda s: s.ack_events("c", [0]), "event_ids"),
        (lambda s: s.ack_events("c", [2**63]), "event_ids"),
        (lambda s: s.purge_events(timedelta(days=-1)), "older_than"),
    ],
)
def test_bad_arguments_are_validation_errors(
    service: ReservationService, call: Callable[[ReservationService], object], field: str
) -> None:
    with pytest.raises(BusinessException) as info:
        call(service)
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.details["field"] == field


def test_holds_have_their_events_too(
    service: ReservationService, new_id: Callable[[str], str], clock: Clock
) -> None:
    consumer, sid = new_id("consumer"), new_id("s")
    service.create_schedule(sid, 5)
    confirmed = service.hold_reservation(sid, "u1", hold_for=timedelta(minutes=5))
    service.confirm_reservation(confirmed.id)
    cancelled = service.hold_reservation(sid, "u2", hold_for=timedelta(minutes=5))
    service.cancel_reservation(cancelled.id)
    lapsed = service.hold_reservation(sid, "u3", hold_for=timedelta(minutes=5))
    clock.now += timedelta(minutes=6)
    assert service.release_expired_holds() >= 1
    assert mine(drain(service, consumer), sid) == [
        (confirmed.id, "reservation.held"),
        (confirmed.id, "reservation.confirmed"),
        (cancelled.id, "reservation.held"),
        (cancelled.id, "reservation.cancelled"),
        (lapsed.id, "reservation.held"),
        (lapsed.id, "reservation.expired"),
    ]
