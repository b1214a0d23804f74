"""Changing a reservation's quantity, on every backend (docs/holds.md, "Changing a booking")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from reservation_core import BusinessException, ErrorCode, ReservationService, WaitlistStatus
from tests.clock import Clock
from tests.counters import counter_errors


@pytest.fixture
def sid(service: ReservationService, new_id: Callable[[str], str]) -> str:
    made = new_id("s")
    service.create_schedule(made, 5)
    return made


def refused(call: Callable[[], Any]) -> BusinessException:
    with pytest.raises(BusinessException) as info:
        call()
    return info.value


def test_more_seats_are_taken_and_fewer_return(
    service: ReservationService, sid: str, clock: Clock
) -> None:
    booking = service.create_reservation(sid, "ann", quantity=2)
    clock.now += timedelta(seconds=1)
    grown = service.change_quantity(booking.id, 4, user_id="ann")
    assert (grown.quantity, grown.status, grown.updated_at) == (4, booking.status, clock.now)
    assert service.get_reservation(booking.id) == grown
    assert service.get_schedule(sid).remaining == 1
    assert service.change_quantity(booking.id, 1).quantity == 1
    assert service.get_schedule(sid).remaining == 4
    assert service.change_quantity(booking.id, 1) == service.get_reservation(booking.id)
    assert counter_errors(service, [sid]) == []


def test_too_many_more_seats_change_nothing(service: ReservationService, sid: str) -> None:
    booking = service.create_reservation(sid, "ann", quantity=2)
    service.create_reservation(sid, "bob", quantity=2)
    error = refused(lambda: service.change_quantity(booking.id, 4))
    assert error.code is ErrorCode.CAPACITY_EXCEEDED
    assert error.details == {"requested": 2, "remaining": 1}
    assert service.get_reservation(booking.id).quantity == 2
    assert service.get_schedule(sid).remaining == 1


def test_a_hold_changes_too_and_a_lapsed_one_expires(
    service: ReservationService, sid: str, clock: Clock
) -> None:
    hold = service.hold_reservation(sid, "ann", hold_for=timedelta(minutes=5))
    assert service.change_quantity(hold.id, 3).quantity == 3
    clock.now += timedelta(minutes=5)
    error = refused(lambda: service.change_quantity(hold.id, 2))
    assert error.code is ErrorCode.HOLD_EXPIRED
    assert service.get_reservation(hold.id).status.name == "EXPIRED"
    assert service.get_schedule(sid).remaining == 5


def test_inactive_reservations_cannot_change(service: ReservationService, sid: str) -> None:
    booking = service.create_reservation(sid, "ann")
    service.cancel_reservation(booking.id)
    error = refused(lambda: service.change_quantity(booking.id, 2))
    assert error.code is ErrorCode.INVALID_STATE_TRANSITION
    assert refused(lambda: service.change_quantity("nope", 2)).code is (
        ErrorCode.RESERVATION_NOT_FOUND
    )
    other = service.create_reservation(sid, "bob")
    error = refused(lambda: service.change_quantity(other.id, 2, user_id="intruder"))
    assert error.code is ErrorCode.RESERVATION_NOT_FOUND
    for bad in (0, -1, True, "2", None):
        error = refused(lambda bad=bad: service.change_quantity(other.id, bad))
        assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, "quantity")


def test_pools_count_every_change(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    pool, first = new_id("pool"), new_id("a")
    service.create_schedule(pool, 3)
    service.create_schedule(first, 5, pools=[pool])
    booking = service.create_reservation(first, "ann")
    error = refused(lambda: service.change_quantity(booking.id, 4))
    assert error.details == {"requested": 3, "remaining": 2, "schedule_id": pool}
    service.change_quantity(booking.id, 3)
    assert service.get_schedule(pool).reserved == 3
    service.change_quantity(booking.id, 2)
    assert service.get_schedule(pool).reserved == 2
    assert counter_errors(service, [first]) == []


def test_fewer_seats_go_to_the_waiting_list(service: ReservationService, sid: str) -> None:
    booking = service.create_reservation(sid, "ann", quantity=5)
    entry = service.join_waitlist(sid, "bob", quantity=2)
    service.change_quantity(booking.id, 3)
    assert service.get_waitlist_entry(entry.id).status is WaitlistStatus.OFFERED
    assert service.get_schedule(sid).remaining == 0
