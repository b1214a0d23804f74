"""Idempotency keys: replay, reuse, expiry and purge — the same on every backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from reservation_core import BusinessException, ErrorCode, ReservationService, ReservationStatus
from tests.backends import Backend
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(backend: Backend, clock: Clock) -> ReservationService:
    return backend.service(clock=clock, idempotency_ttl=timedelta(hours=1))


@pytest.fixture
def schedule_id(service: ReservationService, new_id: Callable[[str], str]) -> str:
    sid = new_id("s")
    service.create_schedule(sid, 5)
    return sid


def test_replay_returns_the_same_reservation_without_a_seat(
    service: ReservationService, backend: Backend, schedule_id: str, new_id: Callable[[str], str]
) -> None:
    key = new_id("k")
    first = service.create_reservation(schedule_id, "alice", quantity=2, idempotency_key=key)
    again = service.create_reservation(schedule_id, "alice", quantity=2, idempotency_key=key)
    assert again == first
    assert backend.tally(schedule_id).reserved == 2


def test_replay_returns_the_current_state(
    service: ReservationService, schedule_id: str, new_id: Callable[[str], str]
) -> None:
    key = new_id("k")
    first = service.create_reservation(schedule_id, "alice", idempotency_key=key)
    service.cancel_reservation(first.id)
    again = service.create_reservation(schedule_id, "alice", idempotency_key=key)
    assert again.id == first.id
    assert again.status is ReservationStatus.CANCELLED


def test_key_reused_for_another_request(
    service: ReservationService,
    backend: Backend,
    schedule_id: str,
    new_id: Callable[[str], str],
) -> None:
    key = new_id("k")
    service.create_reservation(schedule_id, "alice", idempotency_key=key)
    other = new_id("s")
    service.create_schedule(other, 5)
    for call in (
        lambda: service.create_reservation(schedule_id, "alice", quantity=2, idempotency_key=key),
        lambda: service.create_reservation(other, "alice", idempotency_key=key),
    ):
        with pytest.raises(BusinessException) as info:
            call()
        assert info.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
        assert info.value.http_status == 422
    assert backend.tally(schedule_id).reserved == 1
    assert backend.tally(other).reserved == 0


def test_not_found_outranks_key_reuse(
    service: ReservationService, schedule_id: str, new_id: Callable[[str], str]
) -> None:
    key = new_id("k")
    service.create_reservation(schedule_id, "alice", idempotency_key=key)
    with pytest.raises(BusinessException) as info:
        service.create_reservation(new_id("missing"), "alice", idempotency_key=key)
    assert info.value.code is ErrorCode.SCHEDULE_NOT_FOUND


def test_keys_belong_to_one_user(
    service: ReservationService, backend: Backend, schedule_id: str, new_id: Callable[[str], str]
) -> None:
    key = new_id("k")
    alice = service.create_reservation(schedule_id, "alice", idempotency_key=key)
    bob = service.create_reservation(schedule_id, "bob", idempotency_key=key)
    assert alice.id != bob.id
    assert backend.tally(schedule_id).reserved == 2


def test_failed_request_stores_no_key(
    service: ReservationService, backend: Backend, schedule_id: str, new_id: Callable[[str], str]
) -> None:
    key = new_id("k")
    service.create_reservation(schedule_id, "filler", quantity=4)
    with pytest.raises(BusinessException) as info:
        service.create_reservation(schedule_id, "alice", quantity=2, idempotency_key=key)
    assert info.value.code is ErrorCode.CAPACITY_EXCEEDED
    service.change_capacity(schedule_id, 6)
    retried = service.create_reservation(schedule_id, "alice", quantity=2, idempotency_key=key)
    assert retried.status is ReservationStatus.CONFIRMED
    assert backend.tally(schedule_id).reserved == 6


def test_expired_key_is_forgotten(
    service: ReservationService,
    backend: Backend,
    clock: Clock,
    schedule_id: str,
    new_id: Callable[[str], str],
) -> None:
    key = new_id("k")
    first = service.create_reservation(schedule_id, "alice", idempotency_key=key)
    service.cancel_reservation(first.id)
    clock.now += timedelta(minutes=59)
    assert service.create_reservation(schedule_id, "alice", idempotency_key=key).id == first.id
    clock.now += timedelta(minutes=2)
    fresh = service.create_reservation(schedule_id, "alice", quantity=3, idempotency_key=key)
    assert fresh.id != first.id
    assert backend.tally(schedule_id).reserved == 3
    assert (
        service.create_reservation(schedule_id, "alice", quantity=3, idempotency_key=key) == fresh
    )


def test_purge_removes_only_expired_keys(
    service: ReservationService,
    clock: Clock,
    schedule_id: str,
    new_id: Callable[[str], str],
) -> None:
    old_key, new_key = new_id("old"), new_id("new")
    old = service.create_reservation(schedule_id, "alice", idempotency_key=old_key)
    clock.now += timedelta(minutes=90)
    recent = service.create_reservation(schedule_id, "bob", idempotency_key=new_key)
    assert service.purge_expired_idempotency_keys() >= 1
    assert service.purge_expired_idempotency_keys() == 0
    assert service.create_reservation(schedule_id, "bob", idempotency_key=new_key) == recent
    with pytest.raises(BusinessException) as info:  # the key is gone; the reservation is not
        service.create_reservation(schedule_id, "alice", idempotency_key=old_key)
    assert info.value.code is ErrorCode.DUPLICATE_RESERVATION
    assert info.value.details == {"reservation_id": old.id}
