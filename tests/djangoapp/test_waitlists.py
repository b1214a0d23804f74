"""Waiting lists through ``get_service()`` on each alias, alone and in ``transaction.atomic``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import transaction

from reservation_core import (
    BusinessException,
    ErrorCode,
    ReservationStatus,
    WaitlistStatus,
)
from reservation_core.contrib.django import get_service
from tests.counters import counter_errors
from tests.djangoapp.conftest import alias_params
from tests.djangoapp.helpers import orders
from tests.djangoapp.test_transactions import PaymentDeclined, order

each_alias = pytest.mark.parametrize("alias", alias_params(transaction=True), indirect=True)

NewId = Callable[[str], str]


def sold_out(alias: str, new_id: NewId) -> tuple[str, str]:
    """A schedule of 2 seats, both booked (by ``u1`` and ``u2``); its id and u1's booking."""
    service, sid = get_service(alias), new_id("talk")
    service.create_schedule(sid, 2)
    first = service.create_reservation(sid, "u1")
    service.create_reservation(sid, "u2")
    return sid, first.id


@each_alias
def test_a_cancel_offers_the_seat_to_the_first_entry_that_fits(alias: str, new_id: NewId) -> None:
    service = get_service(alias)
    sid, booking = sold_out(alias, new_id)
    pair = service.join_waitlist(sid, "w1", quantity=2)
    single = service.join_waitlist(sid, "w2")
    assert (pair.status, pair.position, single.position) == (WaitlistStatus.WAITING, 1, 2)
    with pytest.raises(BusinessException) as info:
        service.join_waitlist(sid, "w2")
    assert info.value.code is ErrorCode.DUPLICATE_WAITLIST_ENTRY

    service.cancel_reservation(booking)  # one seat: the pair keeps its place, w2 fits
    single = service.get_waitlist_entry(single.id, user_id="w2")
    assert single.status is WaitlistStatus.OFFERED
    assert single.reservation_id is not None
    offer = service.get_reservation(single.reservation_id)
    assert (offer.user_id, offer.status) == ("w2", ReservationStatus.HELD)
    assert service.get_waitlist_entry(pair.id).position == 1
    with pytest.raises(BusinessException):  # the freed seat is the offer's, not for sale
        service.create_reservation(sid, "walk-in")

    service.confirm_reservation(single.reservation_id, user_id="w2")
    assert service.get_waitlist_entry(single.id).status is WaitlistStatus.ACCEPTED
    left = service.leave_waitlist(pair.id, user_id="w1")
    assert left.status is WaitlistStatus.LEFT
    with pytest.raises(BusinessException) as info:
        service.get_waitlist_entry(pair.id, user_id="intruder")
    assert info.value.code is ErrorCode.WAITLIST_ENTRY_NOT_FOUND
    assert service.get_schedule(sid).waitlisted == 0
    assert counter_errors(service, [sid]) == []


@each_alias
def test_an_offer_in_a_block_commits_or_rolls_back_with_the_block(
    alias: str, new_id: NewId
) -> None:
    """The cancel and the offer it makes are the host's: a rollback undoes both."""
    service = get_service(alias)
    sid, booking = sold_out(alias, new_id)
    entry = service.join_waitlist(sid, "w1")
    with pytest.raises(PaymentDeclined), transaction.atomic(using=alias):
        service.cancel_reservation(booking)
        assert service.get_waitlist_entry(entry.id).status is WaitlistStatus.OFFERED
        order(alias, booking)
        raise PaymentDeclined
    assert service.get_reservation(booking).status is ReservationStatus.CONFIRMED
    assert service.get_waitlist_entry(entry.id).status is WaitlistStatus.WAITING
    assert orders(alias, booking) == 0

    with transaction.atomic(using=alias):
        with pytest.raises(BusinessException):  # a refusal leaves the block usable
            service.join_waitlist(sid, "w1")
        service.cancel_reservation(booking)
        order(alias, booking)
    offered = service.get_waitlist_entry(entry.id)
    assert offered.status is WaitlistStatus.OFFERED
    assert offered.reservation_id is not None
    assert service.get_reservation(offered.reservation_id).status is ReservationStatus.HELD
    assert orders(alias, booking) == 1
    assert counter_errors(service, [sid]) == []
