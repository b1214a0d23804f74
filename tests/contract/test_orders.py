"""Orders: several schedules booked all or nothing — the same on every backend."""

from __future__ import annotations

import uuid
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
)
from tests.clock import Clock
from tests.counters import counter_errors

HELD, CONFIRMED = ReservationStatus.HELD, ReservationStatus.CONFIRMED
CANCELLED, EXPIRED = ReservationStatus.CANCELLED, ReservationStatus.EXPIRED


@pytest.fixture
def ids(service: ReservationService, new_id: Callable[[str], str]) -> list[str]:
    """Three schedules: 5, 2 and 1 seats."""
    made = [new_id("a"), new_id("b"), new_id("c")]
    for sid, capacity in zip(made, (5, 2, 1), strict=True):
        service.create_schedule(sid, capacity)
    return made


def refused(call: Callable[[], Any]) -> BusinessException:
    with pytest.raises(BusinessException) as info:
        call()
    return info.value


def remaining(service: ReservationService, ids: list[str]) -> list[int]:
    return [service.get_schedule(sid).remaining for sid in ids]


def test_an_order_books_every_line_with_one_order_id(
    service: ReservationService, ids: list[str], clock: Clock
) -> None:
    lines = service.create_order("u7", [OrderLine(ids[0], quantity=2), OrderLine(ids[1])])
    assert [(r.schedule_id, r.quantity, r.status) for r in lines] == [
        (ids[0], 2, CONFIRMED),
        (ids[1], 1, CONFIRMED),
    ]
    order_id = lines[0].order_id
    assert order_id is not None
    assert str(uuid.UUID(order_id)) == order_id
    assert {r.order_id for r in lines} == {order_id}
    assert all(r.user_id == "u7" and r.created_at == clock.now for r in lines)
    assert all(r.expires_at is None for r in lines)
    assert remaining(service, ids) == [3, 1, 1]
    assert service.get_order(order_id) == lines
    assert service.get_order(order_id, user_id="u7") == lines
    assert service.get_reservation(lines[1].id) == lines[1]
    assert counter_errors(service, ids) == []


def test_get_order_keeps_the_lines_in_the_order_given(
    service: ReservationService, ids: list[str]
) -> None:
    lines = service.create_order("u7", [OrderLine(ids[2]), OrderLine(ids[0]), OrderLine(ids[1])])
    assert [r.schedule_id for r in service.get_order(lines[0].order_id or "")] == [
        ids[2],
        ids[0],
        ids[1],
    ]


def test_single_bookings_have_no_order(service: ReservationService, ids: list[str]) -> None:
    assert service.create_reservation(ids[0], "u1").order_id is None
    assert service.hold_reservation(ids[1], "u1").order_id is None


def test_a_refused_line_refuses_the_whole_order_and_names_itself(
    service: ReservationService, ids: list[str]
) -> None:
    error = refused(
        lambda: service.create_order("u7", [OrderLine(ids[0], quantity=2), OrderLine(ids[1], 3)])
    )
    assert error.code is ErrorCode.CAPACITY_EXCEEDED
    assert error.details == {"requested": 3, "remaining": 2, "line": 1}
    assert remaining(service, ids) == [5, 2, 1]
    assert [service.list_reservations(schedule_id=sid).items for sid in ids] == [(), (), ()]
    assert counter_errors(service, ids) == []


def test_the_first_refused_line_in_the_order_given_is_the_one_reported(
    service: ReservationService, ids: list[str]
) -> None:
    service.create_reservation(ids[2], "u7")
    # line 1 is a duplicate, line 2 is unknown: line order beats the errors' precedence
    error = refused(
        lambda: service.create_order(
            "u7", [OrderLine(ids[0]), OrderLine(ids[2]), OrderLine("no-such-schedule")]
        )
    )
    assert error.code is ErrorCode.DUPLICATE_RESERVATION
    assert error.details["line"] == 1
    error = refused(
        lambda: service.create_order("u8", [OrderLine(ids[0]), OrderLine("no-such-schedule")])
    )
    assert error.code is ErrorCode.SCHEDULE_NOT_FOUND
    assert error.details == {"schedule_id": "no-such-schedule", "line": 1}
    assert remaining(service, ids) == [5, 2, 0]


def test_a_held_order_shares_one_expiry_and_confirms_together(
    service: ReservationService, ids: list[str], clock: Clock
) -> None:
    lines = service.create_order(
        "u7", [OrderLine(ids[0]), OrderLine(ids[1])], hold_for=timedelta(minutes=3)
    )
    assert {r.status for r in lines} == {HELD}
    assert {r.expires_at for r in lines} == {clock.now + timedelta(minutes=3)}
    clock.now += timedelta(minutes=2)
    confirmed = service.confirm_order(lines[0].order_id or "", user_id="u7")
    assert [r.status for r in confirmed] == [CONFIRMED, CONFIRMED]
    assert all(r.updated_at == clock.now for r in confirmed)
    assert service.get_order(lines[0].order_id or "") == confirmed
    assert service.confirm_order(lines[0].order_id or "") == confirmed  # webhooks repeat
    assert remaining(service, ids) == [4, 1, 1]


def test_a_lapsed_order_expires_whole_on_confirm(
    service: ReservationService, ids: list[str], clock: Clock
) -> None:
    lines = service.create_order(
        "u7", [OrderLine(ids[0], 2), OrderLine(ids[1])], hold_for=timedelta(minutes=3)
    )
    order_id = lines[0].order_id or ""
    clock.now += timedelta(minutes=3)
    error = refused(lambda: service.confirm_order(order_id))
    assert error.code is ErrorCode.HOLD_EXPIRED
    assert error.http_status == 410
    assert [r.status for r in service.get_order(order_id)] == [EXPIRED, EXPIRED]
    assert remaining(service, ids) == [5, 2, 1]
    assert refused(lambda: service.confirm_order(order_id)).code is ErrorCode.HOLD_EXPIRED


def test_confirming_an_order_with_a_cancelled_line_changes_nothing(
    service: ReservationService, ids: list[str]
) -> None:
    lines = service.create_order(
        "u7", [OrderLine(ids[0]), OrderLine(ids[1])], hold_for=timedelta(minutes=3)
    )
    service.cancel_reservation(lines[1].id)
    error = refused(lambda: service.confirm_order(lines[0].order_id or ""))
    assert error.code is ErrorCode.INVALID_STATE_TRANSITION
    assert [r.status for r in service.get_order(lines[0].order_id or "")] == [HELD, CANCELLED]


def test_cancel_order_cancels_the_active_lines_and_returns_all(
    service: ReservationService, ids: list[str]
) -> None:
    lines = service.create_order("u7", [OrderLine(ids[0], 2), OrderLine(ids[1]), OrderLine(ids[2])])
    service.cancel_reservation(lines[1].id)
    cancelled = service.cancel_order(lines[0].order_id or "", user_id="u7")
    assert [r.status for r in cancelled] == [CANCELLED, CANCELLED, CANCELLED]
    assert cancelled[1] == service.get_reservation(lines[1].id)
    assert remaining(service, ids) == [5, 2, 1]
    error = refused(lambda: service.cancel_order(lines[0].order_id or ""))
    assert error.code is ErrorCode.RESERVATION_ALREADY_CANCELLED
    assert counter_errors(service, ids) == []


def test_each_line_is_an_ordinary_reservation(service: ReservationService, ids: list[str]) -> None:
    lines = service.create_order("u7", [OrderLine(ids[0]), OrderLine(ids[1])])
    refunded = service.refund_reservation(lines[0].id)
    assert refunded.status is ReservationStatus.REFUNDED
    assert refunded.order_id == lines[0].order_id
    assert remaining(service, ids) == [5, 1, 1]
    kept = service.cancel_order(lines[0].order_id or "")
    assert [r.status for r in kept] == [ReservationStatus.REFUNDED, CANCELLED]


@pytest.mark.parametrize("call", ["get_order", "confirm_order", "cancel_order"])
def test_an_unknown_or_foreign_order_is_not_found(
    service: ReservationService, ids: list[str], call: str
) -> None:
    lines = service.create_order("u7", [OrderLine(ids[0])])
    for order_id, owner in ((str(uuid.uuid4()), None), (lines[0].order_id, "intruder")):
        error = refused(
            lambda order_id=order_id, owner=owner: getattr(service, call)(order_id, user_id=owner)
        )
        assert error.code is ErrorCode.ORDER_NOT_FOUND
        assert error.http_status == 404
        assert error.details == {"order_id": order_id}
    assert service.get_order(lines[0].order_id or "")[0].status is CONFIRMED


def test_an_idempotent_order_replays_and_refuses_another_request(
    service: ReservationService, ids: list[str], new_id: Callable[[str], str]
) -> None:
    order = [OrderLine(ids[0], 2), OrderLine(ids[1])]
    user = new_id("u")
    first = service.create_order(user, order, idempotency_key="checkout-81")
    again = service.create_order(user, list(order), idempotency_key="checkout-81")
    assert again == first
    assert remaining(service, ids) == [3, 1, 1]
    service.cancel_reservation(first[1].id)
    replayed = service.create_order(user, order, idempotency_key="checkout-81")
    assert [r.status for r in replayed] == [CONFIRMED, CANCELLED]
    for other, hold_for in (
        ([OrderLine(ids[1]), OrderLine(ids[0], 2)], None),
        (order, timedelta(minutes=5)),
        ([OrderLine(ids[0], 1), OrderLine(ids[1])], None),
    ):
        error = refused(
            lambda other=other, hold_for=hold_for: service.create_order(
                user, other, idempotency_key="checkout-81", hold_for=hold_for
            )
        )
        assert error.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert remaining(service, ids) == [3, 2, 1]


def test_an_unknown_schedule_outranks_a_reused_key_and_names_its_line(
    service: ReservationService, ids: list[str], new_id: Callable[[str], str]
) -> None:
    user = new_id("u")
    service.create_order(user, [OrderLine(ids[0])], idempotency_key="k")
    error = refused(
        lambda: service.create_order(
            user, [OrderLine(ids[1]), OrderLine("no-such-schedule")], idempotency_key="k"
        )
    )
    assert error.code is ErrorCode.SCHEDULE_NOT_FOUND
    assert error.details == {"schedule_id": "no-such-schedule", "line": 1}


def test_a_refused_order_does_not_use_up_its_key(
    service: ReservationService, ids: list[str], new_id: Callable[[str], str]
) -> None:
    too_many = [OrderLine(ids[0]), OrderLine(ids[2], 2)]
    user = new_id("u")
    assert (
        refused(lambda: service.create_order(user, too_many, idempotency_key="k")).code
        is ErrorCode.CAPACITY_EXCEEDED
    )
    service.change_capacity(ids[2], 2)
    lines = service.create_order(user, too_many, idempotency_key="k")
    assert [r.quantity for r in lines] == [1, 2]


def test_an_order_line_first_releases_its_schedules_lapsed_holds(
    service: ReservationService, ids: list[str], clock: Clock
) -> None:
    service.hold_reservation(ids[2], "other", hold_for=timedelta(minutes=1))
    service.hold_reservation(ids[1], "u7", hold_for=timedelta(minutes=1))
    clock.now += timedelta(minutes=1)
    lines = service.create_order("u7", [OrderLine(ids[1]), OrderLine(ids[2])])
    assert [r.status for r in lines] == [CONFIRMED, CONFIRMED]
    assert remaining(service, ids) == [5, 1, 0]
    assert counter_errors(service, ids) == []


@pytest.mark.parametrize(
    "lines",
    [
        [],
        (),
        "abc",
        None,
        [("s", 1)],
        [OrderLine("s"), OrderLine("s")],
        [OrderLine("")],
        [OrderLine("s", 0)],
        [OrderLine("s", True)],
        [OrderLine("s\x00")],
        [OrderLine(f"s{n}") for n in range(51)],
    ],
)
def test_bad_lines_are_a_validation_error_naming_lines(
    service: ReservationService, ids: list[str], lines: Any
) -> None:
    error = refused(lambda: service.create_order("u7", lines))
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert error.details["field"] == "lines"
    assert [service.list_reservations(schedule_id=sid).items for sid in ids] == [(), (), ()]


def test_fifty_lines_are_allowed(service: ReservationService, new_id: Callable[[str], str]) -> None:
    many = [new_id(f"m{n}") for n in range(50)]
    for sid in many:
        service.create_schedule(sid, 1)
    assert len(service.create_order("u7", [OrderLine(sid) for sid in many])) == 50


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"user_id": ""}, "user_id"),
        ({"user_id": 7}, "user_id"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"hold_for": timedelta(0)}, "hold_for"),
        ({"hold_for": 60}, "hold_for"),
    ],
)
def test_bad_arguments_name_their_field(
    service: ReservationService, ids: list[str], arguments: dict[str, Any], field: str
) -> None:
    call: dict[str, Any] = {"user_id": "u7", "lines": [OrderLine(ids[0])], **arguments}
    error = refused(lambda: service.create_order(**call))
    assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, field)
    for name in ("get_order", "confirm_order", "cancel_order"):
        error = refused(lambda name=name: getattr(service, name)(""))
        assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, "order_id")
    assert remaining(service, ids) == [5, 2, 1]
