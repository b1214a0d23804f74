"""Waiting lists: offers made in the transaction that frees the seats, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from reservation_core import (
    BusinessException,
    ErrorCode,
    OrderLine,
    ReservationService,
    ReservationStatus,
    WaitlistStatus,
)
from tests.clock import Clock
from tests.counters import counter_errors

WAITING, OFFERED = WaitlistStatus.WAITING, WaitlistStatus.OFFERED
ACCEPTED, EXPIRED, LEFT = WaitlistStatus.ACCEPTED, WaitlistStatus.EXPIRED, WaitlistStatus.LEFT
HELD = ReservationStatus.HELD


@pytest.fixture
def full(service: ReservationService, new_id: Callable[[str], str]) -> tuple[str, list[str]]:
    """A sold-out schedule of 3 seats: (its id, the ids of its three bookings)."""
    sid = new_id("s")
    service.create_schedule(sid, 3)
    return sid, [service.create_reservation(sid, f"booker-{n}").id for n in range(3)]


def refused(call: Callable[[], Any]) -> BusinessException:
    with pytest.raises(BusinessException) as info:
        call()
    return info.value


def status(service: ReservationService, entry_id: str) -> WaitlistStatus:
    return service.get_waitlist_entry(entry_id).status


def test_joining_a_full_schedule_waits_in_line_with_a_live_position(
    service: ReservationService, full: tuple[str, list[str]], clock: Clock
) -> None:
    sid, _ = full
    first = service.join_waitlist(sid, "w1")
    second = service.join_waitlist(sid, "w2", quantity=2)
    assert (first.status, first.position, first.reservation_id) == (WAITING, 1, None)
    assert (second.status, second.position, second.quantity) == (WAITING, 2, 2)
    assert (second.schedule_id, second.user_id) == (sid, "w2")
    assert second.created_at == second.updated_at == clock.now
    assert service.get_waitlist_entry(second.id, user_id="w2") == second
    left = service.leave_waitlist(first.id, user_id="w1")
    assert (left.status, left.position) == (LEFT, None)
    assert service.get_waitlist_entry(second.id).position == 1  # moved up


def test_a_cancel_offers_the_seat_to_the_first_entry_in_the_same_transaction(
    service: ReservationService, full: tuple[str, list[str]], clock: Clock
) -> None:
    sid, bookings = full
    entry = service.join_waitlist(sid, "w1", offer_for=timedelta(minutes=30))
    service.cancel_reservation(bookings[0])
    offered = service.get_waitlist_entry(entry.id)
    assert (offered.status, offered.position) == (OFFERED, None)
    hold = service.get_reservation(offered.reservation_id or "")
    assert (hold.status, hold.user_id, hold.quantity) == (HELD, "w1", 1)
    assert hold.expires_at == clock.now + timedelta(minutes=30)
    # the seat is the entry's: a direct booking cannot have it
    error = refused(lambda: service.create_reservation(sid, "walk-in"))
    assert error.code is ErrorCode.CAPACITY_EXCEEDED
    assert service.confirm_reservation(hold.id).status is ReservationStatus.CONFIRMED
    assert status(service, entry.id) is ACCEPTED
    assert counter_errors(service, [sid]) == []


def test_first_fit_skips_an_entry_too_big_and_keeps_its_place(
    service: ReservationService, full: tuple[str, list[str]]
) -> None:
    sid, bookings = full
    big = service.join_waitlist(sid, "big", quantity=2)
    small = service.join_waitlist(sid, "small")
    service.refund_reservation(bookings[0])
    assert status(service, big.id) is WAITING
    assert service.get_waitlist_entry(big.id).position == 1
    assert status(service, small.id) is OFFERED
    service.cancel_reservation(bookings[1])
    service.cancel_reservation(bookings[2])  # two free now: the big one fits
    assert status(service, big.id) is OFFERED
    assert service.get_schedule(sid).remaining == 0


def test_a_lapsed_offer_passes_the_seats_on(
    service: ReservationService, full: tuple[str, list[str]], clock: Clock
) -> None:
    sid, bookings = full
    first = service.join_waitlist(sid, "w1", offer_for=timedelta(minutes=5))
    second = service.join_waitlist(sid, "w2")
    service.cancel_reservation(bookings[0])
    hold_id = service.get_waitlist_entry(first.id).reservation_id or ""
    clock.now += timedelta(minutes=5)
    assert service.release_expired_holds() >= 1  # others' lapsed holds too, on a shared database
    assert status(service, first.id) is EXPIRED
    assert service.get_reservation(hold_id).status is ReservationStatus.EXPIRED
    assert status(service, second.id) is OFFERED
    assert counter_errors(service, [sid]) == []


def test_a_lapsed_offer_found_by_a_booking_passes_on_before_the_booking(
    service: ReservationService, full: tuple[str, list[str]], clock: Clock
) -> None:
    sid, bookings = full
    first = service.join_waitlist(sid, "w1", offer_for=timedelta(minutes=5))
    second = service.join_waitlist(sid, "w2")
    service.cancel_reservation(bookings[0])
    clock.now += timedelta(minutes=5)
    # The booking's expiry offers the seat to the next entry first, so the booking is
    # refused (and, refused, rolls back with what it expired: the sweep commits it).
    error = refused(lambda: service.create_reservation(sid, "walk-in"))
    assert error.code is ErrorCode.CAPACITY_EXCEEDED
    assert service.release_expired_holds() >= 1  # others' lapsed holds too, on a shared database
    assert (status(service, first.id), status(service, second.id)) == (EXPIRED, OFFERED)
    assert refused(lambda: service.create_reservation(sid, "walk-in")).code is (
        ErrorCode.CAPACITY_EXCEEDED
    )


def test_cancelling_an_offer_or_leaving_passes_the_seats_on(
    service: ReservationService, full: tuple[str, list[str]]
) -> None:
    sid, bookings = full
    entries = [service.join_waitlist(sid, f"w{n}") for n in range(3)]
    service.cancel_reservation(bookings[0])
    offer = service.get_waitlist_entry(entries[0].id).reservation_id or ""
    service.cancel_reservation(offer)
    assert status(service, entries[0].id) is LEFT
    assert status(service, entries[1].id) is OFFERED
    left = service.leave_waitlist(entries[1].id)
    assert left.status is LEFT
    hold = service.get_reservation(left.reservation_id or "")
    assert hold.status is ReservationStatus.CANCELLED
    assert status(service, entries[2].id) is OFFERED
    assert counter_errors(service, [sid]) == []


def test_a_bigger_capacity_goes_to_the_waiting_list(
    service: ReservationService, full: tuple[str, list[str]]
) -> None:
    sid, _ = full
    entry = service.join_waitlist(sid, "w1", quantity=2)
    schedule = service.change_capacity(sid, 5)
    assert (schedule.capacity, schedule.reserved) == (5, 5)
    assert status(service, entry.id) is OFFERED


def test_joining_with_free_seats_is_offered_at_once(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    service.create_schedule(sid, 2)
    entry = service.join_waitlist(sid, "w1", quantity=2)
    assert (entry.status, entry.position) == (OFFERED, None)
    assert service.get_reservation(entry.reservation_id or "").quantity == 2
    assert service.get_schedule(sid).remaining == 0


def test_an_offer_needs_room_in_the_pools_too(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    pool, first, second = new_id("pool"), new_id("a"), new_id("b")
    service.create_schedule(pool, 2)
    service.create_schedule(first, 2, pools=[pool])
    service.create_schedule(second, 2, pools=[pool])
    booked = service.create_order("u1", [OrderLine(first), OrderLine(second)])
    entry = service.join_waitlist(first, "w1")
    assert entry.status is WAITING  # the pool is full
    service.cancel_reservation(booked[1].id)  # a seat on the pool, freed by the other one
    assert status(service, entry.id) is WAITING  # offered to that schedule's list only
    assert service.get_schedule(pool).remaining == 1
    service.cancel_reservation(booked[0].id)
    assert status(service, entry.id) is OFFERED
    assert counter_errors(service, [first, second]) == []


def test_one_entry_on_the_list_per_user_and_schedule(
    service: ReservationService, full: tuple[str, list[str]]
) -> None:
    sid, _ = full
    entry = service.join_waitlist(sid, "w1")
    error = refused(lambda: service.join_waitlist(sid, "w1", quantity=2))
    assert error.code is ErrorCode.DUPLICATE_WAITLIST_ENTRY
    assert error.http_status == 409
    assert error.details == {"entry_id": entry.id}
    error = refused(lambda: service.join_waitlist(sid, "booker-0"))
    assert error.code is ErrorCode.DUPLICATE_RESERVATION
    service.leave_waitlist(entry.id)
    assert service.join_waitlist(sid, "w1").status is WAITING


def test_leaving_twice_is_an_invalid_transition(
    service: ReservationService, full: tuple[str, list[str]]
) -> None:
    sid, _ = full
    entry = service.join_waitlist(sid, "w1")
    service.leave_waitlist(entry.id)
    error = refused(lambda: service.leave_waitlist(entry.id))
    assert error.code is ErrorCode.INVALID_STATE_TRANSITION


def test_an_unknown_or_foreign_entry_is_not_found(
    service: ReservationService, full: tuple[str, list[str]]
) -> None:
    sid, _ = full
    entry = service.join_waitlist(sid, "w1")
    for call in (service.get_waitlist_entry, service.leave_waitlist):
        for entry_id, owner in (("no-such-entry", None), (entry.id, "intruder")):
            error = refused(lambda call=call, e=entry_id, o=owner: call(e, user_id=o))
            assert error.code is ErrorCode.WAITLIST_ENTRY_NOT_FOUND
            assert error.http_status == 404
    assert status(service, entry.id) is WAITING
    error = refused(lambda: service.join_waitlist("no-such-schedule", "w1"))
    assert error.code is ErrorCode.SCHEDULE_NOT_FOUND


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"schedule_id": ""}, "schedule_id"),
        ({"user_id": None}, "user_id"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"offer_for": timedelta(0)}, "offer_for"),
        ({"offer_for": 60}, "offer_for"),
    ],
)
def test_bad_arguments_name_their_field(
    service: ReservationService, full: tuple[str, list[str]], arguments: dict[str, Any], field: str
) -> None:
    sid, _ = full
    call: dict[str, Any] = {"schedule_id": sid, "user_id": "w1", **arguments}
    error = refused(lambda: service.join_waitlist(**call))
    assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, field)
    assert service.get_schedule(sid).waitlisted == 0


def test_every_change_of_an_entry_has_its_event(
    service: ReservationService, full: tuple[str, list[str]], new_id: Callable[[str], str]
) -> None:
    sid, bookings = full
    consumer = new_id("c")
    service.claim_events(consumer, limit=10_000)  # what came before
    entry = service.join_waitlist(sid, "w1")
    service.cancel_reservation(bookings[0])
    offer = service.get_waitlist_entry(entry.id).reservation_id or ""
    service.confirm_reservation(offer)
    mine = [e for e in service.claim_events(consumer, limit=10_000) if e.schedule_id == sid]
    kinds = [(e.type, str(e.status)) for e in mine]
    assert ("waitlist.joined", "WAITING") in kinds
    assert ("waitlist.offered", "OFFERED") in kinds
    assert ("waitlist.accepted", "ACCEPTED") in kinds
    assert ("reservation.held", "HELD") in kinds
    assert all(e.reservation_id == entry.id for e in mine if e.type.startswith("waitlist."))
