"""Orders and pools on Django's connections: the rows of several lines and pools at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import transaction

from examples.django_app.models import Order
from reservation_core import BusinessException, ErrorCode, OrderLine, ReservationStatus
from reservation_core.contrib.django import get_service
from tests.djangoapp.conftest import alias_params
from tests.djangoapp.helpers import orders, reservation_exists

each_alias = pytest.mark.parametrize("alias", alias_params(transaction=True), indirect=True)

NewId = Callable[[str], str]


@each_alias
def test_a_schedule_with_pools_and_an_order_over_it(alias: str, new_id: NewId) -> None:
    service = get_service(alias)
    room, first, second = new_id("room"), new_id("a"), new_id("b")
    service.create_schedule(room, 3)
    made = service.create_schedule(first, 2, pools=[room])
    service.create_schedule(second, 2, pools=[room])
    assert made.pools == (room,) == service.get_schedule(first).pools
    lines = service.create_order("u1", [OrderLine(first, 2), OrderLine(second)])
    assert [line.order_id for line in lines] == [lines[0].order_id] * 2
    assert service.get_order(lines[0].order_id or "") == lines
    assert [service.get_schedule(sid).reserved for sid in (room, first, second)] == [3, 2, 1]
    with pytest.raises(BusinessException) as refused:
        service.create_reservation(second, "u2")
    assert refused.value.details == {"requested": 1, "remaining": 0, "schedule_id": room}
    cancelled = service.cancel_order(lines[0].order_id or "")
    assert {line.status for line in cancelled} == {ReservationStatus.CANCELLED}
    assert [service.get_schedule(sid).reserved for sid in (room, first, second)] == [0, 0, 0]


@each_alias
def test_an_order_in_an_atomic_block_rolls_back_whole(alias: str, new_id: NewId) -> None:
    service = get_service(alias)
    first, second = new_id("a"), new_id("b")
    service.create_schedule(first, 1)
    service.create_schedule(second, 1)
    booked: list[str] = []
    with pytest.raises(RuntimeError), transaction.atomic(using=alias):
        lines = service.create_order("u1", [OrderLine(first), OrderLine(second)])
        booked += [line.id for line in lines]
        for line in lines:
            Order.objects.using(alias).create(
                reservation_id=line.id, schedule_id=line.schedule_id, user_id="u1"
            )
        raise RuntimeError("payment declined")
    assert not any(reservation_exists(alias, rid) or orders(alias, rid) for rid in booked)
    assert [service.get_schedule(sid).reserved for sid in (first, second)] == [0, 0]
    with pytest.raises(BusinessException) as refused:
        service.get_order("no-such-order")
    assert refused.value.code is ErrorCode.ORDER_NOT_FOUND
