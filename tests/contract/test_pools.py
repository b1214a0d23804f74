"""Shared capacity pools: every seat counts on its schedule and on each of its pools."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from reservation_core import BusinessException, ErrorCode, OrderLine, ReservationService
from tests.clock import Clock
from tests.counters import counter_errors


@pytest.fixture
def room(service: ReservationService, new_id: Callable[[str], str]) -> dict[str, str]:
    """An afternoon room of 5 shared by two workshops of 3 (pretix's quotas, small)."""
    names = {"room": new_id("room"), "a": new_id("wa"), "b": new_id("wb")}
    service.create_schedule(names["room"], 5)
    service.create_schedule(names["a"], 3, pools=[names["room"]])
    service.create_schedule(names["b"], 3, pools=(names["room"],))
    return names


def refused(call: Callable[[], Any]) -> BusinessException:
    with pytest.raises(BusinessException) as info:
        call()
    return info.value


def reserved(service: ReservationService, room: dict[str, str]) -> dict[str, int]:
    return {key: service.get_schedule(sid).reserved for key, sid in room.items()}


def test_a_schedule_lists_its_pools_sorted(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    first, second, third = new_id("p1"), new_id("p2"), new_id("s")
    service.create_schedule(second, 10)
    service.create_schedule(first, 10)
    made = service.create_schedule(third, 4, pools=[second, first])
    assert made.pools == tuple(sorted([first, second]))
    assert service.get_schedule(third) == made
    assert service.get_schedule(first).pools == ()


def test_a_booking_takes_seats_from_the_schedule_and_its_pool(
    service: ReservationService, room: dict[str, str]
) -> None:
    service.create_reservation(room["a"], "u1", quantity=3)
    assert reserved(service, room) == {"room": 3, "a": 3, "b": 0}
    error = refused(lambda: service.create_reservation(room["b"], "u2", quantity=3))
    assert error.code is ErrorCode.CAPACITY_EXCEEDED
    assert error.details == {"requested": 3, "remaining": 2, "schedule_id": room["room"]}
    assert reserved(service, room) == {"room": 3, "a": 3, "b": 0}
    service.create_reservation(room["b"], "u2", quantity=2)
    assert reserved(service, room) == {"room": 5, "a": 3, "b": 2}
    assert counter_errors(service, room.values()) == []


def test_the_schedule_itself_is_named_when_it_is_short(
    service: ReservationService, room: dict[str, str]
) -> None:
    error = refused(lambda: service.create_reservation(room["a"], "u1", quantity=4))
    assert error.details == {"requested": 4, "remaining": 3, "schedule_id": room["a"]}


def test_a_pool_can_be_booked_directly_and_counts_for_its_schedules(
    service: ReservationService, room: dict[str, str]
) -> None:
    service.create_reservation(room["room"], "walk-in", quantity=4)
    error = refused(lambda: service.hold_reservation(room["a"], "u1", quantity=2))
    assert error.details["schedule_id"] == room["room"]
    service.hold_reservation(room["a"], "u1")
    assert reserved(service, room) == {"room": 5, "a": 1, "b": 0}
    assert counter_errors(service, room.values()) == []


def test_every_move_that_returns_seats_returns_them_to_the_pool(
    service: ReservationService, room: dict[str, str], clock: Clock
) -> None:
    cancelled = service.create_reservation(room["a"], "u1")
    refunded = service.create_reservation(room["b"], "u2")
    held = service.hold_reservation(room["a"], "u3", hold_for=timedelta(minutes=1))
    lapsed = service.hold_reservation(room["b"], "u4", hold_for=timedelta(minutes=1))
    assert reserved(service, room) == {"room": 4, "a": 2, "b": 2}
    service.cancel_reservation(cancelled.id)
    service.refund_reservation(refunded.id)
    assert reserved(service, room) == {"room": 2, "a": 1, "b": 1}
    clock.now += timedelta(minutes=1)
    assert refused(lambda: service.confirm_reservation(held.id)).code is ErrorCode.HOLD_EXPIRED
    assert service.release_expired_holds() >= 1  # others' lapsed holds too, on a shared database
    assert service.get_reservation(lapsed.id).status.name == "EXPIRED"
    assert reserved(service, room) == {"room": 0, "a": 0, "b": 0}
    assert counter_errors(service, room.values()) == []


def test_a_booking_short_on_the_pool_first_releases_its_schedules_lapsed_holds(
    service: ReservationService, room: dict[str, str], clock: Clock
) -> None:
    service.hold_reservation(room["a"], "u1", quantity=3, hold_for=timedelta(minutes=1))
    service.create_reservation(room["b"], "u2", quantity=2)
    clock.now += timedelta(minutes=1)
    service.create_reservation(room["a"], "u3", quantity=3)
    assert reserved(service, room) == {"room": 5, "a": 3, "b": 2}
    assert counter_errors(service, room.values()) == []


def test_an_order_counts_its_lines_against_a_shared_pool_together(
    service: ReservationService, room: dict[str, str]
) -> None:
    error = refused(
        lambda: service.create_order("u1", [OrderLine(room["a"], 3), OrderLine(room["b"], 3)])
    )
    assert error.code is ErrorCode.CAPACITY_EXCEEDED
    assert error.details == {
        "requested": 3,
        "remaining": 2,
        "schedule_id": room["room"],
        "line": 1,
    }
    assert reserved(service, room) == {"room": 0, "a": 0, "b": 0}
    lines = service.create_order("u1", [OrderLine(room["b"], 2), OrderLine(room["a"], 3)])
    assert reserved(service, room) == {"room": 5, "a": 3, "b": 2}
    service.cancel_order(lines[0].order_id or "")
    assert reserved(service, room) == {"room": 0, "a": 0, "b": 0}


def test_a_pools_capacity_cannot_fall_below_its_reserved(
    service: ReservationService, room: dict[str, str]
) -> None:
    service.create_reservation(room["a"], "u1", quantity=2)
    service.create_reservation(room["b"], "u2", quantity=2)
    error = refused(lambda: service.change_capacity(room["room"], 3))
    assert error.code is ErrorCode.CAPACITY_BELOW_RESERVED
    assert error.details == {"capacity": 3, "reserved": 4}
    service.change_capacity(room["room"], 4)
    error = refused(lambda: service.create_reservation(room["a"], "u3"))
    assert error.details["schedule_id"] == room["room"]


def test_pools_are_one_level_deep(service: ReservationService, room: dict[str, str]) -> None:
    error = refused(lambda: service.create_schedule("nested", 1, pools=[room["a"]]))
    assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, "pools")
    with pytest.raises(BusinessException):
        service.get_schedule("nested")


def test_an_unknown_pool_is_not_found(service: ReservationService, room: dict[str, str]) -> None:
    error = refused(lambda: service.create_schedule("orphan", 1, pools=[room["room"], "nope"]))
    assert error.code is ErrorCode.SCHEDULE_NOT_FOUND
    assert error.details == {"schedule_id": "nope"}
    assert refused(lambda: service.get_schedule("orphan")).code is ErrorCode.SCHEDULE_NOT_FOUND


@pytest.mark.parametrize(
    "pools",
    [
        "room",
        None,
        7,
        [""],
        [7],
        ["x\x01"],
        ["same", "same"],
        [f"p{n}" for n in range(9)],
        ["self"],
    ],
)
def test_bad_pools_are_a_validation_error(service: ReservationService, pools: Any) -> None:
    error = refused(lambda: service.create_schedule("self", 1, pools=pools))
    assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, "pools")
    assert refused(lambda: service.get_schedule("self")).code is ErrorCode.SCHEDULE_NOT_FOUND


def test_eight_pools_are_allowed(service: ReservationService, new_id: Callable[[str], str]) -> None:
    pools = [new_id(f"p{n}") for n in range(8)]
    for pool in pools:
        service.create_schedule(pool, 2)
    sid = new_id("s")
    service.create_schedule(sid, 2, pools=pools)
    service.create_reservation(sid, "u1", quantity=2)
    assert {service.get_schedule(pool).reserved for pool in pools} == {2}
    assert counter_errors(service, [sid]) == []
