"""Schedules: create, read, change capacity — the same on every backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from reservation_core import BusinessException, ErrorCode, Schedule
from tests.backends import Backend


def test_create_then_get_schedule(backend: Backend, new_id: Callable[[str], str]) -> None:
    service = backend.service()
    sid = new_id("s")
    created = service.create_schedule(sid, 10)
    assert created == Schedule(id=sid, capacity=10, reserved=0)
    assert created.remaining == 10
    assert service.get_schedule(sid) == created


def test_capacity_zero_is_allowed_and_full(backend: Backend, new_id: Callable[[str], str]) -> None:
    service = backend.service()
    sid = new_id("s")
    assert service.create_schedule(sid, 0).remaining == 0
    with pytest.raises(BusinessException) as info:
        service.create_reservation(sid, "u1")
    assert info.value.code is ErrorCode.CAPACITY_EXCEEDED
    assert info.value.details == {"requested": 1, "remaining": 0}


def test_duplicate_schedule_is_refused_and_unchanged(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    service = backend.service()
    sid = new_id("s")
    service.create_schedule(sid, 3)
    with pytest.raises(BusinessException) as info:
        service.create_schedule(sid, 99)
    assert info.value.code is ErrorCode.SCHEDULE_ALREADY_EXISTS
    assert info.value.http_status == 409
    assert service.get_schedule(sid).capacity == 3


def test_unknown_schedule_is_not_found(backend: Backend, new_id: Callable[[str], str]) -> None:
    service = backend.service()
    for call in (
        lambda sid: service.get_schedule(sid),
        lambda sid: service.change_capacity(sid, 5),
        lambda sid: service.create_reservation(sid, "u1"),
    ):
        with pytest.raises(BusinessException) as info:
            call(new_id("missing"))
        assert info.value.code is ErrorCode.SCHEDULE_NOT_FOUND
        assert info.value.http_status == 404


def test_change_capacity_up_and_down_to_reserved(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    service = backend.service()
    sid = new_id("s")
    service.create_schedule(sid, 5)
    service.create_reservation(sid, "u1", quantity=3)
    assert service.change_capacity(sid, 8) == Schedule(sid, 8, 3)
    assert service.change_capacity(sid, 3) == Schedule(sid, 3, 3)
    assert service.get_schedule(sid).remaining == 0


def test_change_capacity_below_reserved_is_refused(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    service = backend.service()
    sid = new_id("s")
    service.create_schedule(sid, 5)
    service.create_reservation(sid, "u1", quantity=3)
    with pytest.raises(BusinessException) as info:
        service.change_capacity(sid, 2)
    assert info.value.code is ErrorCode.CAPACITY_BELOW_RESERVED
    assert info.value.details == {"capacity": 2, "reserved": 3}
    assert service.get_schedule(sid) == Schedule(sid, 5, 3)


def test_ids_compare_exactly(backend: Backend) -> None:
    """Case and trailing spaces matter; MariaDB's default collations would fold them."""
    service = backend.service()
    base = "exact-" + uuid.uuid4().hex[:8]
    for offset, sid in enumerate((base + "a", base + "A", base + "a ", " " + base + "a")):
        service.create_schedule(sid, offset + 1)
    assert service.get_schedule(base + "a").capacity == 1
    assert service.get_schedule(base + "A").capacity == 2
    assert service.get_schedule(base + "a ").capacity == 3
    assert service.get_schedule(" " + base + "a").capacity == 4


@pytest.mark.parametrize(
    "suffix",
    [
        "\N{GRINNING FACE}\N{ROCKET}",  # 4-byte UTF-8
        "caf\N{LATIN SMALL LETTER E WITH ACUTE}",
        "cafe\N{COMBINING ACUTE ACCENT}",  # not folded into the line above
        "\N{ZERO WIDTH JOINER}",
        "\N{CJK UNIFIED IDEOGRAPH-4E2D}\N{CJK UNIFIED IDEOGRAPH-6587}",
    ],
)
def test_unicode_ids_round_trip(backend: Backend, suffix: str) -> None:
    service = backend.service()
    sid = uuid.uuid4().hex[:8] + suffix
    service.create_schedule(sid, 2)
    reservation = service.create_reservation(sid, "user-" + suffix)
    assert service.get_schedule(sid).id == sid
    assert service.get_reservation(reservation.id).user_id == "user-" + suffix


def test_longest_id_and_largest_capacity(backend: Backend) -> None:
    service = backend.service()
    sid = (uuid.uuid4().hex * 2)[:64]
    largest = 2**31 - 1
    service.create_schedule(sid, largest)
    reservation = service.create_reservation(sid, "u" * 64, quantity=largest)
    assert reservation.quantity == largest
    assert service.get_schedule(sid).remaining == 0
    with pytest.raises(BusinessException) as info:
        service.create_reservation(sid, "other", quantity=largest)
    assert info.value.code is ErrorCode.CAPACITY_EXCEEDED
