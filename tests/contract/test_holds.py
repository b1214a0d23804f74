"""Holds: hold, confirm, cancel, expiry and the sweeper — the same on every backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reservation_core import BusinessException, ErrorCode, ReservationService, ReservationStatus
from tests.backends import Backend
from tests.clock import Clock

HELD, CONFIRMED = ReservationStatus.HELD, ReservationStatus.CONFIRMED


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(backend: Backend, clock: Clock) -> ReservationService:
    return backend.service(clock=clock)


@pytest.fixture
def schedule_id(service: ReservationService, new_id: Callable[[str], str]) -> str:
    sid = new_id("s")
    service.create_schedule(sid, 3)
    return sid


def refused(call: Callable[[], Any]) -> BusinessException:
    with pytest.raises(BusinessException) as info:
        call()
    return info.value


def test_a_hold_takes_seats_until_its_expiry(
    service: ReservationService, backend: Backend, clock: Clock, schedule_id: str
) -> None:
    hold = service.hold_reservation(
        schedule_id, "alice", quantity=2, hold_for=timedelta(minutes=5, microseconds=7)
    )
    assert (hold.status, hold.quantity, hold.user_id) == (HELD, 2, "alice")
    assert hold.expires_at == clock.now + timedelta(minutes=5, microseconds=7)
    assert hold.expires_at.tzinfo is not None
    assert hold.expires_at.utcoffset() == timedelta(0)
    assert hold.created_at == hold.updated_at == clock.now
    assert service.get_reservation(hold.id) == hold
    assert service.get_schedule(schedule_id).remaining == 1
    tally = backend.tally(schedule_id)
    assert (tally.reserved, tally.held_count, tally.confirmed_count) == (2, 1, 0)
    assert tally.consistent


def test_default_hold_is_ten_minutes(
    service: ReservationService, clock: Clock, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice")
    assert hold.expires_at == clock.now + timedelta(minutes=10)


def test_bookings_have_no_expiry(service: ReservationService, schedule_id: str) -> None:
    booking = service.create_reservation(schedule_id, "alice")
    assert booking.expires_at is None
    assert service.get_reservation(booking.id).expires_at is None


def test_confirm_before_expiry_keeps_the_seats_and_repeats_unchanged(
    service: ReservationService, backend: Backend, clock: Clock, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice", quantity=2)
    clock.now += timedelta(minutes=9, seconds=59)
    confirmed = service.confirm_reservation(hold.id, user_id="alice")
    assert confirmed.status is CONFIRMED
    assert (confirmed.updated_at, confirmed.expires_at) == (clock.now, hold.expires_at)
    assert service.get_reservation(hold.id) == confirmed
    clock.now += timedelta(hours=1)  # a repeated webhook, long after the hold would expire
    assert service.confirm_reservation(hold.id) == confirmed
    service.release_expired_holds()
    assert service.get_reservation(hold.id) == confirmed
    tally = backend.tally(schedule_id)
    assert (tally.reserved, tally.confirmed_count, tally.held_count) == (2, 1, 0)
    assert tally.consistent


def test_confirm_after_expiry_is_hold_expired_and_the_seats_return(
    service: ReservationService, backend: Backend, clock: Clock, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice", quantity=2)
    clock.now = hold.expires_at  # expires_at itself is past: the hold lasts until before it
    error = refused(lambda: service.confirm_reservation(hold.id))
    assert (error.code, error.http_status) == (ErrorCode.HOLD_EXPIRED, 410)
    assert error.details["reservation_id"] == hold.id
    # The expiry was committed although the call raised.
    expired = service.get_reservation(hold.id)
    assert (expired.status, expired.updated_at) == (ReservationStatus.EXPIRED, clock.now)
    assert service.get_schedule(schedule_id).reserved == 0
    assert backend.tally(schedule_id).consistent
    again = refused(lambda: service.confirm_reservation(hold.id))
    assert again.code is ErrorCode.HOLD_EXPIRED
    for move in (service.cancel_reservation, service.refund_reservation):
        assert refused(lambda move=move: move(hold.id)).code is ErrorCode.INVALID_STATE_TRANSITION
    assert service.get_schedule(schedule_id).reserved == 0


def test_cancel_a_hold_returns_its_seats(
    service: ReservationService, backend: Backend, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice", quantity=3)
    cancelled = service.cancel_reservation(hold.id, user_id="alice")
    assert cancelled.status is ReservationStatus.CANCELLED
    assert service.get_schedule(schedule_id).reserved == 0
    assert refused(lambda: service.confirm_reservation(hold.id)).code is (
        ErrorCode.INVALID_STATE_TRANSITION
    )
    assert backend.tally(schedule_id).consistent


def test_a_hold_cannot_be_refunded_until_confirmed(
    service: ReservationService, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice")
    error = refused(lambda: service.refund_reservation(hold.id))
    assert error.code is ErrorCode.INVALID_STATE_TRANSITION
    assert service.get_reservation(hold.id) == hold
    service.confirm_reservation(hold.id)
    assert service.refund_reservation(hold.id).status is ReservationStatus.REFUNDED
    assert refused(lambda: service.confirm_reservation(hold.id)).code is (
        ErrorCode.INVALID_STATE_TRANSITION
    )
    assert service.get_schedule(schedule_id).reserved == 0


def test_release_expired_holds_expires_only_lapsed_holds(
    service: ReservationService,
    backend: Backend,
    clock: Clock,
    new_id: Callable[[str], str],
) -> None:
    first, second = new_id("s"), new_id("s")
    service.create_schedule(first, 5)
    service.create_schedule(second, 5)
    short = service.hold_reservation(first, "ann", quantity=2, hold_for=timedelta(minutes=1))
    other = service.hold_reservation(second, "ann", hold_for=timedelta(minutes=1))
    long = service.hold_reservation(first, "bob", hold_for=timedelta(hours=1))
    booking = service.create_reservation(first, "cy")
    clock.now += timedelta(minutes=1)
    assert service.release_expired_holds() >= 2  # other tests' lapsed holds may count too
    assert service.release_expired_holds() == 0  # nothing lapsed since
    statuses = [service.get_reservation(r.id).status for r in (short, other, long, booking)]
    assert statuses == [ReservationStatus.EXPIRED, ReservationStatus.EXPIRED, HELD, CONFIRMED]
    assert (service.get_schedule(first).reserved, service.get_schedule(second).reserved) == (2, 0)
    assert backend.tally(first).consistent
    assert backend.tally(second).consistent


@pytest.mark.parametrize("method", ["create_reservation", "hold_reservation"])
def test_a_lapsed_hold_never_blocks_a_sale(
    service: ReservationService,
    backend: Backend,
    clock: Clock,
    schedule_id: str,
    method: str,
) -> None:
    """No sweeper runs: the booking short of seats expires the lapsed hold itself."""
    hold = service.hold_reservation(schedule_id, "alice", quantity=3)
    early = refused(lambda: getattr(service, method)(schedule_id, "bob"))
    assert early.code is ErrorCode.CAPACITY_EXCEEDED
    clock.now = hold.expires_at
    made = getattr(service, method)(schedule_id, "bob")
    assert made.user_id == "bob"
    assert service.get_reservation(hold.id).status is ReservationStatus.EXPIRED
    tally = backend.tally(schedule_id)
    assert (tally.reserved, tally.consistent) == (1, True)


def test_the_users_own_lapsed_hold_does_not_make_a_duplicate(
    service: ReservationService, backend: Backend, clock: Clock, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice")
    clock.now = hold.expires_at + timedelta(seconds=1)
    again = service.hold_reservation(schedule_id, "alice", quantity=2)
    assert again.status is HELD
    assert service.get_reservation(hold.id).status is ReservationStatus.EXPIRED
    tally = backend.tally(schedule_id)
    assert (tally.reserved, tally.held_count, tally.consistent) == (2, 1, True)


def test_one_active_reservation_per_user_and_schedule(
    service: ReservationService, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice")
    for make in (service.hold_reservation, service.create_reservation):
        error = refused(lambda make=make: make(schedule_id, "alice"))
        assert (error.code, error.details) == (
            ErrorCode.DUPLICATE_RESERVATION,
            {"reservation_id": hold.id},
        )
    service.confirm_reservation(hold.id)
    assert refused(lambda: service.hold_reservation(schedule_id, "alice")).details == {
        "reservation_id": hold.id
    }
    service.cancel_reservation(hold.id)
    assert service.hold_reservation(schedule_id, "alice").status is HELD


def test_confirm_checks_the_owner_and_the_id(service: ReservationService, schedule_id: str) -> None:
    hold = service.hold_reservation(schedule_id, "alice")
    for call in (
        lambda: service.confirm_reservation(hold.id, user_id="bob"),
        lambda: service.confirm_reservation("00000000-0000-0000-0000-000000000000"),
    ):
        assert refused(call).code is ErrorCode.RESERVATION_NOT_FOUND
    error = refused(lambda: service.confirm_reservation(""))
    assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, "reservation_id")
    assert service.get_reservation(hold.id) == hold


@pytest.mark.parametrize(
    "hold_for",
    [
        timedelta(0),
        timedelta(seconds=-1),
        timedelta(days=366),
        timedelta.max,
        600,
        "PT10M",
        None,
        True,
    ],
)
def test_bad_hold_for_is_a_validation_error(
    service: ReservationService, schedule_id: str, hold_for: Any
) -> None:
    error = refused(lambda: service.hold_reservation(schedule_id, "alice", hold_for=hold_for))
    assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, "hold_for")
    assert service.get_schedule(schedule_id).reserved == 0


def test_the_latest_clock_and_the_longest_hold_still_fit_and_later_is_refused(
    backend: Backend, schedule_id: str
) -> None:
    """A clock reads 1970..8999 and a hold lasts at most 365 days: its end always fits."""
    last = backend.service(clock=lambda: datetime(8999, 12, 31, 23, 0, tzinfo=UTC))
    hold = last.hold_reservation(schedule_id, "alice", hold_for=timedelta(days=365))
    assert hold.expires_at == datetime(9000, 12, 31, 23, 0, tzinfo=UTC)
    too_late = backend.service(clock=lambda: datetime(9999, 12, 31, 23, 0, tzinfo=UTC))
    error = refused(lambda: too_late.hold_reservation(schedule_id, "bob"))
    assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, "clock")
    assert backend.tally(schedule_id).reserved == hold.quantity


def test_hold_idempotency_keys_replay_and_refuse_reuse(
    service: ReservationService, schedule_id: str, new_id: Callable[[str], str]
) -> None:
    key = new_id("k")
    hold = service.hold_reservation(schedule_id, "alice", idempotency_key=key)
    assert service.hold_reservation(schedule_id, "alice", idempotency_key=key) == hold
    reused = refused(lambda: service.create_reservation(schedule_id, "alice", idempotency_key=key))
    assert reused.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    confirmed = service.confirm_reservation(hold.id)
    assert service.hold_reservation(schedule_id, "alice", idempotency_key=key) == confirmed
    assert service.get_schedule(schedule_id).reserved == 1
