"""The cursor of list_schedules: any valid schedule id round-trips within its length limit."""

from __future__ import annotations

import pytest
from hypothesis import given

from reservation_core import BusinessException, Schedule
from reservation_core._use_cases.paging import decode_schedule_cursor, encode_schedule_cursor
from reservation_core.testing.strategies import valid_ids


@given(valid_ids())
def test_every_valid_id_round_trips(schedule_id: str) -> None:
    cursor = encode_schedule_cursor(Schedule(schedule_id, 1, 0))
    assert cursor.isascii()
    assert decode_schedule_cursor(cursor) == schedule_id


def test_the_longest_id_of_four_byte_characters_fits() -> None:
    schedule_id = "\U0001f600" * 64
    assert decode_schedule_cursor(encode_schedule_cursor(Schedule(schedule_id, 1, 0))) == (
        schedule_id
    )


def test_none_is_the_first_page_and_a_reservation_cursor_is_refused() -> None:
    assert decode_schedule_cursor(None) is None
    with pytest.raises(BusinessException):
        decode_schedule_cursor("WyIyMDI2LTAxLTAxVDEyOjAwOjAwKzAwOjAwIiwgImlkIl0")
