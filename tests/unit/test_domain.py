from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from reservation_core import BusinessException, ErrorCode, Reservation, ReservationStatus, Schedule
from reservation_core.domain import TRANSITIONS, Action, transition_target

C, X, R = ReservationStatus.CONFIRMED, ReservationStatus.CANCELLED, ReservationStatus.REFUNDED
H, E = ReservationStatus.HELD, ReservationStatus.EXPIRED


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        (Action.CANCEL, C, X),
        (Action.CANCEL, X, ErrorCode.RESERVATION_ALREADY_CANCELLED),
        (Action.CANCEL, R, ErrorCode.INVALID_STATE_TRANSITION),
        (Action.REFUND, C, R),
        (Action.REFUND, R, ErrorCode.ALREADY_REFUNDED),
        (Action.REFUND, X, ErrorCode.INVALID_STATE_TRANSITION),
        (Action.CONFIRM, H, C),
        (Action.CONFIRM, C, C),
        (Action.CONFIRM, X, ErrorCode.INVALID_STATE_TRANSITION),
        (Action.CONFIRM, R, ErrorCode.INVALID_STATE_TRANSITION),
        (Action.CONFIRM, E, ErrorCode.HOLD_EXPIRED),
        (Action.CANCEL, H, X),
        (Action.CANCEL, E, ErrorCode.INVALID_STATE_TRANSITION),
        (Action.REFUND, H, ErrorCode.INVALID_STATE_TRANSITION),
        (Action.REFUND, E, ErrorCode.INVALID_STATE_TRANSITION),
        (Action.EXPIRE, H, E),
        (Action.EXPIRE, C, ErrorCode.INVALID_STATE_TRANSITION),
        (Action.EXPIRE, E, ErrorCode.INVALID_STATE_TRANSITION),
    ],
)
def test_transition_table(action: Action, status: ReservationStatus, expected: object) -> None:
    assert TRANSITIONS[action][status] == expected
    if isinstance(expected, ReservationStatus):
        assert transition_target(action, status) is expected
    else:
        with pytest.raises(BusinessException) as info:
            transition_target(action, status)
        assert info.value.code == expected


def test_table_is_complete_and_read_only() -> None:
    for action in Action:
        assert set(TRANSITIONS[action]) == set(ReservationStatus)
    with pytest.raises(TypeError):
        TRANSITIONS[Action.CANCEL][X] = C  # type: ignore[index]


def test_values_are_frozen() -> None:
    schedule = Schedule("s", capacity=5, reserved=2)
    assert schedule.remaining == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.reserved = 0  # type: ignore[misc]
    now = datetime.now(UTC)
    reservation = Reservation("r", "s", "u", 1, C, now, now)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reservation.status = R  # type: ignore[misc]
    assert str(ReservationStatus.CONFIRMED) == "CONFIRMED"


def test_held_and_confirmed_hold_seats() -> None:
    assert {status for status in ReservationStatus if status.holds_seats} == {H, C}


def test_expires_at_defaults_to_none_for_existing_constructor_calls() -> None:
    now = datetime.now(UTC)
    assert Reservation("r", "s", "u", 1, C, now, now).expires_at is None


def test_the_events_table_has_a_column_per_field_of_the_event() -> None:
    from reservation_core.adapters.sqlalchemy.tables import events
    from reservation_core.domain._events import EVENT_FIELDS

    assert [column.name for column in events.columns] == ["id", *EVENT_FIELDS]


def test_the_relay_schema_names_every_event_type_and_status_the_library_writes() -> None:
    from reservation_core import ReservationStatus, WaitlistStatus
    from reservation_core.domain import event_type
    from reservation_core.domain._events import QUANTITY_CHANGED
    from reservation_core.domain._waitlist import waitlist_event_type
    from reservation_core.relay import message_schema

    properties = message_schema()["properties"]
    written = {event_type(s) for s in ReservationStatus} | {QUANTITY_CHANGED}
    written |= {waitlist_event_type(s) for s in WaitlistStatus}
    assert written <= set(properties["type"]["enum"])
    statuses = {str(s) for s in ReservationStatus} | {str(s) for s in WaitlistStatus}
    assert statuses == set(properties["status"]["enum"])
