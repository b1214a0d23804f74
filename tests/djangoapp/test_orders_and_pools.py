"""Orders and pools through ``get_service()`` on each alias, alone and in ``transaction.atomic``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import transaction

from reservation_core import BusinessException, ErrorCode, OrderLine, ReservationStatus
from reservation_core.contrib.django import get_service
from tests.counters import counter_errors
from tests.djangoapp.conftest import alias_params
from tests.djangoapp.helpers import orders, reservation_exists
from tests.djangoapp.test_transactions import PaymentDeclined, order

each_alias = pytest.mark.parametrize("alias", alias_params(transaction=True), indirect=True)

NewId = Callable[[str], str]


def room(alias: str, new_id: NewId) -> dict[str, str]:
    """A room of 3 seats shared by two workshops of 2."""
    service = get_service(alias)
    names = {"room": new_id("room"), "a": new_id("wa"), "b": new_id("wb")}
    service.create_schedule(names["room"], 3)
    service.create_schedule(names["a"], 2, pools=[names["room"]])
    service.create_schedule(names["b"], 2, pools=[names["room"]])
    return names


def reserved(alias: str, names: dict[str, str]) -> dict[str, int]:
    return {key: get_service(alias).get_schedule(sid).reserved for key, sid in names.items()}


@each_alias
def test_orders_and_pools_through_get_service(alias: str, new_id: NewId) -> None:
    service, names = get_service(alias), room(alias, new_id)
    assert service.get_schedule(names["a"]).pools == (names["room"],)
    lines = service.create_order(
        "u1", [OrderLine(names["a"], 2), OrderLine(names["b"])], hold_for=timedelta(minutes=5)
    )
    order_id = lines[0].order_id or ""
    assert {line.order_id for line in lines} == {order_id}
    assert service.get_order(order_id, user_id="u1") == lines
    assert reserved(alias, names) == {"room": 3, "a": 2, "b": 1}
    with pytest.raises(BusinessException) as info:  # the room is full
        service.create_reservation(names["b"], "u2")
    assert info.value.details["schedule_id"] == names["room"]
    confirmed = service.confirm_order(order_id)
    assert {line.status for line in confirmed} == {ReservationStatus.CONFIRMED}
    cancelled = service.cancel_order(order_id, user_id="u1")
    assert {line.status for line in cancelled} == {ReservationStatus.CANCELLED}
    assert reserved(alias, names) == {"room": 0, "a": 0, "b": 0}
    with pytest.raises(BusinessException) as info:
        service.get_order(order_id, user_id="intruder")
    assert info.value.code is ErrorCode.ORDER_NOT_FOUND
    assert counter_errors(service, names.values()) == []


@each_alias
def test_a_refused_order_leaves_nothing_on_any_schedule_or_pool(alias: str, new_id: NewId) -> None:
    service, names = get_service(alias), room(alias, new_id)
    with pytest.raises(BusinessException) as info:
        service.create_order("u1", [OrderLine(names["a"], 2), OrderLine(names["b"], 2)])
    assert info.value.code is ErrorCode.CAPACITY_EXCEEDED
    assert info.value.details == {
        "requested": 2,
        "remaining": 1,
        "schedule_id": names["room"],
        "line": 1,
    }
    assert reserved(alias, names) == {"room": 0, "a": 0, "b": 0}
    for sid in names.values():
        assert service.list_reservations(schedule_id=sid).items == ()


@each_alias
def test_an_order_in_a_block_commits_or_rolls_back_with_the_block(
    alias: str, new_id: NewId
) -> None:
    service, names = get_service(alias), room(alias, new_id)
    with transaction.atomic(using=alias):
        kept = service.create_order("u1", [OrderLine(names["a"]), OrderLine(names["room"])])
        order(alias, kept[0].id)
    assert service.get_order(kept[0].order_id or "") == kept
    assert orders(alias, kept[0].id) == 1
    dropped: list[str] = []
    with pytest.raises(PaymentDeclined), transaction.atomic(using=alias):
        lines = service.create_order("u2", [OrderLine(names["b"])], hold_for=timedelta(hours=1))
        dropped += [line.id for line in lines]
        order(alias, dropped[0])
        raise PaymentDeclined
    assert not any(reservation_exists(alias, rid) for rid in dropped)
    assert orders(alias, dropped[0]) == 0
    assert reserved(alias, names) == {"room": 2, "a": 1, "b": 0}
    assert counter_errors(service, names.values()) == []


@each_alias
def test_a_refused_order_in_a_block_leaves_it_usable(alias: str, new_id: NewId) -> None:
    service, names = get_service(alias), room(alias, new_id)
    with transaction.atomic(using=alias):
        first = service.create_reservation(names["a"], "u1", quantity=2)
        for lines in (
            [OrderLine(names["b"]), OrderLine(names["a"])],  # line 1: capacity of a
            [OrderLine(names["b"]), OrderLine(new_id("nowhere"))],  # line 1: not found
            [OrderLine(names["b"], 2)],  # the room has 1 seat left
        ):
            with pytest.raises(BusinessException):
                service.create_order("u2", lines)
        held = service.create_order("u2", [OrderLine(names["b"])], hold_for=timedelta(hours=1))
        cancelled = service.cancel_order(held[0].order_id or "")
        order(alias, first.id)
    assert cancelled[0].status is ReservationStatus.CANCELLED
    assert orders(alias, first.id) == 1
    assert reserved(alias, names) == {"room": 2, "a": 2, "b": 0}
    assert counter_errors(service, names.values()) == []
