"""Bad input is VALIDATION_ERROR naming the field, before anything is read or written."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from reservation_core import BusinessException, ErrorCode, ReservationService, Schedule
from tests.backends import Backend

BAD_IDS: list[Any] = [
    "",
    "x" * 65,
    "tab\there",
    "new\nline",
    "nul\x00",
    "del\x7f",
    "c1\x85",
    "lone\ud800surrogate",
    None,
    7,
    b"bytes",
    True,
    ["list"],
]
BAD_COUNTS: list[Any] = [True, False, 1.0, "3", None, -1, 2**31, 10**30, 10**5000]


def _label(value: Any) -> str:
    try:
        return repr(value)
    except ValueError:  # an int too long for str()
        return f"int of {value.bit_length()} bits"


def _assert_invalid(call: Callable[[], object], field: str) -> None:
    with pytest.raises(BusinessException) as info:
        call()
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.http_status == 422
    assert info.value.details["field"] == field
    assert set(info.value.to_dict()) == {"code", "message", "details"}
    _assert_serialisable(info.value)


def _assert_serialisable(error: BusinessException) -> None:
    """What a web layer does with an error: repr, and JSON as UTF-8 bytes."""
    assert repr(error).startswith("BusinessException('VALIDATION_ERROR'")
    for body in (error.to_dict(), error.to_problem()):
        json.dumps(body, ensure_ascii=False).encode("utf-8")


@pytest.fixture
def service(backend: Backend) -> ReservationService:
    return backend.service()


@pytest.fixture
def schedule_id(service: ReservationService, new_id: Callable[[str], str]) -> str:
    sid = new_id("s")
    service.create_schedule(sid, 3)
    return sid


@pytest.mark.parametrize("bad", BAD_IDS, ids=_label)
def test_bad_schedule_id(service: ReservationService, bad: Any) -> None:
    _assert_invalid(lambda: service.create_schedule(bad, 1), "schedule_id")
    _assert_invalid(lambda: service.get_schedule(bad), "schedule_id")
    _assert_invalid(lambda: service.change_capacity(bad, 1), "schedule_id")
    _assert_invalid(lambda: service.create_reservation(bad, "u"), "schedule_id")


@pytest.mark.parametrize("bad", BAD_IDS, ids=_label)
def test_bad_user_id_writes_nothing(
    service: ReservationService, backend: Backend, schedule_id: str, bad: Any
) -> None:
    _assert_invalid(lambda: service.create_reservation(schedule_id, bad), "user_id")
    assert backend.tally(schedule_id).reserved == 0
    reservation = service.create_reservation(schedule_id, "owner")
    if bad is not None:  # None means "no ownership check" on these methods
        for method in ("cancel_reservation", "refund_reservation", "get_reservation"):
            _assert_invalid(
                lambda method=method: getattr(service, method)(reservation.id, user_id=bad),
                "user_id",
            )
    assert service.get_reservation(reservation.id) == reservation


@pytest.mark.parametrize("bad", [b for b in BAD_IDS if b is not None], ids=_label)
def test_bad_idempotency_key_writes_nothing(
    service: ReservationService, backend: Backend, schedule_id: str, bad: Any
) -> None:
    _assert_invalid(
        lambda: service.create_reservation(schedule_id, "u", idempotency_key=bad),
        "idempotency_key",
    )
    assert backend.tally(schedule_id).reserved == 0


@pytest.mark.parametrize("bad", BAD_IDS, ids=_label)
def test_bad_reservation_id(service: ReservationService, bad: Any) -> None:
    for method in ("cancel_reservation", "refund_reservation", "get_reservation"):
        _assert_invalid(lambda method=method: getattr(service, method)(bad), "reservation_id")


@pytest.mark.parametrize("bad", BAD_COUNTS, ids=_label)
def test_bad_capacity_writes_nothing(
    service: ReservationService, schedule_id: str, new_id: Callable[[str], str], bad: Any
) -> None:
    sid = new_id("s")
    _assert_invalid(lambda: service.create_schedule(sid, bad), "capacity")
    _assert_invalid(lambda: service.change_capacity(schedule_id, bad), "capacity")
    with pytest.raises(BusinessException) as info:
        service.get_schedule(sid)
    assert info.value.code is ErrorCode.SCHEDULE_NOT_FOUND
    assert service.get_schedule(schedule_id) == Schedule(schedule_id, 3, 0)


@pytest.mark.parametrize("bad", [*BAD_COUNTS, 0], ids=_label)
def test_bad_quantity_writes_nothing(
    service: ReservationService, backend: Backend, schedule_id: str, bad: Any
) -> None:
    _assert_invalid(lambda: service.create_reservation(schedule_id, "u", quantity=bad), "quantity")
    assert backend.tally(schedule_id).reserved == 0


def test_validation_outranks_not_found(service: ReservationService) -> None:
    _assert_invalid(
        lambda: service.create_reservation("no-such-schedule", "u", quantity=0), "quantity"
    )
    _assert_invalid(lambda: service.cancel_reservation("no-such", user_id=""), "user_id")


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        (2.5, 2.5),
        (1.0, 1.0),
        (10**20, "number"),
        (10**5000, "number"),
        (float("inf"), "number"),
        (float("nan"), "number"),
        ("3", "3"),
        ([3], "array"),
        ({"n": 3}, "object"),
        (Decimal(3), "Decimal"),
    ],
    ids=_label,
)
def test_a_refused_value_is_shown_as_a_json_client_sent_it(
    service: ReservationService, schedule_id: str, bad: Any, shown: Any
) -> None:
    """Echoed as sent when JSON holds it exactly and it is small, else named in JSON terms."""
    for call in (
        lambda: service.create_schedule("s", bad),
        lambda: service.create_reservation(schedule_id, "u", quantity=bad),
    ):
        with pytest.raises(BusinessException) as info:
            call()
        assert info.value.details["value"] == shown


@pytest.mark.parametrize(
    ("hold_for", "reason", "shown"),
    [
        (timedelta(seconds=-5), "must be positive", -5),
        (timedelta(0), "must be positive", 0),
        (timedelta(milliseconds=-1500), "must be positive", -1.5),
        (timedelta(days=365, seconds=1), "must be at most 31536000 seconds", 31536001),
        ("ten", "must be a datetime.timedelta", "ten"),
        (600, "must be a datetime.timedelta", 600),
    ],
    ids=_label,
)
def test_a_refused_duration_is_shown_in_seconds(
    service: ReservationService, schedule_id: str, hold_for: Any, reason: str, shown: Any
) -> None:
    with pytest.raises(BusinessException) as info:
        service.hold_reservation(schedule_id, "u", hold_for=hold_for)
    assert info.value.details == {"field": "hold_for", "reason": reason, "value": shown}
