"""Reservations: create, cancel, refund, read — the same on every backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

import pytest

from reservation_core import BusinessException, ErrorCode, ReservationService, ReservationStatus
from tests.backends import Backend


@pytest.fixture
def service(backend: Backend) -> ReservationService:
    return backend.service()


@pytest.fixture
def schedule_id(service: ReservationService, new_id: Callable[[str], str]) -> str:
    sid = new_id("s")
    service.create_schedule(sid, 5)
    return sid


def test_create_reservation_takes_seats(
    service: ReservationService, backend: Backend, schedule_id: str
) -> None:
    reservation = service.create_reservation(schedule_id, "alice", quantity=2)
    assert reservation.status is ReservationStatus.CONFIRMED
    assert (reservation.schedule_id, reservation.user_id, reservation.quantity) == (
        schedule_id,
        "alice",
        2,
    )
    assert reservation.created_at == reservation.updated_at
    assert reservation.created_at.tzinfo is not None
    assert reservation.created_at.utcoffset() == UTC.utcoffset(None)
    assert service.get_schedule(schedule_id).remaining == 3
    assert backend.tally(schedule_id).consistent


def test_reservation_round_trips_exactly(service: ReservationService, schedule_id: str) -> None:
    reservation = service.create_reservation(schedule_id, "alice")
    assert service.get_reservation(reservation.id) == reservation
    cancelled = service.cancel_reservation(reservation.id)
    assert service.get_reservation(reservation.id) == cancelled
    assert cancelled.updated_at >= cancelled.created_at == reservation.created_at


def test_capacity_exceeded_names_requested_and_remaining(
    service: ReservationService, backend: Backend, schedule_id: str
) -> None:
    service.create_reservation(schedule_id, "alice", quantity=4)
    with pytest.raises(BusinessException) as info:
        service.create_reservation(schedule_id, "bob", quantity=2)
    assert info.value.code is ErrorCode.CAPACITY_EXCEEDED
    assert info.value.http_status == 400
    assert info.value.details == {"requested": 2, "remaining": 1}
    assert service.create_reservation(schedule_id, "bob", quantity=1).quantity == 1
    assert backend.tally(schedule_id).reserved == 5


def test_cancel_returns_seats_once(
    service: ReservationService, backend: Backend, schedule_id: str
) -> None:
    reservation = service.create_reservation(schedule_id, "alice", quantity=3)
    cancelled = service.cancel_reservation(reservation.id)
    assert cancelled.status is ReservationStatus.CANCELLED
    assert cancelled.id == reservation.id
    assert service.get_schedule(schedule_id).reserved == 0
    with pytest.raises(BusinessException) as info:
        service.cancel_reservation(reservation.id)
    assert info.value.code is ErrorCode.RESERVATION_ALREADY_CANCELLED
    assert info.value.http_status == 400
    assert service.get_schedule(schedule_id).reserved == 0
    assert backend.tally(schedule_id).consistent


def test_refund_returns_seats_once(
    service: ReservationService, backend: Backend, schedule_id: str
) -> None:
    reservation = service.create_reservation(schedule_id, "alice", quantity=2)
    refunded = service.refund_reservation(reservation.id)
    assert refunded.status is ReservationStatus.REFUNDED
    assert service.get_schedule(schedule_id).reserved == 0
    with pytest.raises(BusinessException) as info:
        service.refund_reservation(reservation.id)
    assert info.value.code is ErrorCode.ALREADY_REFUNDED
    assert info.value.http_status == 400
    assert service.get_reservation(reservation.id).status is ReservationStatus.REFUNDED
    assert backend.tally(schedule_id).consistent


@pytest.mark.parametrize(
    ("first", "second"),
    [("cancel_reservation", "refund_reservation"), ("refund_reservation", "cancel_reservation")],
)
def test_cancel_and_refund_exclude_each_other(
    service: ReservationService, schedule_id: str, first: str, second: str
) -> None:
    reservation = service.create_reservation(schedule_id, "alice")
    getattr(service, first)(reservation.id)
    with pytest.raises(BusinessException) as info:
        getattr(service, second)(reservation.id)
    assert info.value.code is ErrorCode.INVALID_STATE_TRANSITION
    assert info.value.http_status == 409
    assert service.get_schedule(schedule_id).reserved == 0


@pytest.mark.parametrize("method", ["cancel_reservation", "refund_reservation", "get_reservation"])
def test_other_users_reservation_is_not_found(
    service: ReservationService, schedule_id: str, method: str
) -> None:
    reservation = service.create_reservation(schedule_id, "alice")
    with pytest.raises(BusinessException) as info:
        getattr(service, method)(reservation.id, user_id="mallory")
    assert info.value.code is ErrorCode.RESERVATION_NOT_FOUND
    assert info.value.to_dict()["details"] == {"reservation_id": reservation.id}
    assert service.get_reservation(reservation.id, user_id="alice") == reservation
    assert service.get_schedule(schedule_id).reserved == 1


@pytest.mark.parametrize("method", ["cancel_reservation", "refund_reservation", "get_reservation"])
def test_unknown_reservation_is_not_found(service: ReservationService, method: str) -> None:
    for unknown in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", "x" * 64):
        with pytest.raises(BusinessException) as info:
            getattr(service, method)(unknown)
        assert info.value.code is ErrorCode.RESERVATION_NOT_FOUND
        assert info.value.http_status == 404


def test_owner_may_cancel_with_user_id(service: ReservationService, schedule_id: str) -> None:
    reservation = service.create_reservation(schedule_id, "alice")
    assert service.cancel_reservation(reservation.id, user_id="alice").status == "CANCELLED"


def test_reservation_ids_are_unique_uuids(service: ReservationService, schedule_id: str) -> None:
    import uuid

    ids = {service.create_reservation(schedule_id, f"user-{n}").id for n in range(5)}
    assert len(ids) == 5
    assert all(str(uuid.UUID(rid)) == rid for rid in ids)


def test_duplicate_reservation_names_the_existing_one(
    service: ReservationService, backend: Backend, schedule_id: str
) -> None:
    first = service.create_reservation(schedule_id, "alice")
    with pytest.raises(BusinessException) as info:
        service.create_reservation(schedule_id, "alice", quantity=2)
    assert info.value.code is ErrorCode.DUPLICATE_RESERVATION
    assert info.value.http_status == 409
    assert info.value.details == {"reservation_id": first.id}
    assert backend.tally(schedule_id).reserved == 1


@pytest.mark.parametrize("release", ["cancel_reservation", "refund_reservation"])
def test_user_may_book_again_after_release(
    service: ReservationService, backend: Backend, schedule_id: str, release: str
) -> None:
    first = service.create_reservation(schedule_id, "alice")
    getattr(service, release)(first.id)
    second = service.create_reservation(schedule_id, "alice")
    assert second.id != first.id
    assert backend.tally(schedule_id).confirmed_count == 1


def test_duplicate_outranks_capacity(service: ReservationService, schedule_id: str) -> None:
    first = service.create_reservation(schedule_id, "alice", quantity=5)
    with pytest.raises(BusinessException) as info:
        service.create_reservation(schedule_id, "alice")
    assert info.value.code is ErrorCode.DUPLICATE_RESERVATION
    assert info.value.details == {"reservation_id": first.id}


def test_not_found_outranks_state(service: ReservationService, schedule_id: str) -> None:
    reservation = service.create_reservation(schedule_id, "alice")
    service.cancel_reservation(reservation.id)
    with pytest.raises(BusinessException) as info:
        service.cancel_reservation(reservation.id, user_id="bob")
    assert info.value.code is ErrorCode.RESERVATION_NOT_FOUND


@pytest.mark.parametrize("method", ["cancel_reservation", "refund_reservation"])
def test_seat_count_drift_is_reported_and_nothing_written(
    service: ReservationService, backend: Backend, schedule_id: str, method: str
) -> None:
    """A hand-edited ``reserved`` below the confirmed seats is refused cleanly, not by a
    raw CHECK violation, and the reservation stays as it was."""
    reservation = service.create_reservation(schedule_id, "alice", quantity=2)
    backend.set_reserved(schedule_id, 1)
    with pytest.raises(BusinessException) as info:
        getattr(service, method)(reservation.id)
    assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert info.value.details == {"reason": "seat_count_drift", "schedule_id": schedule_id}
    assert service.get_reservation(reservation.id) == reservation
    assert service.get_schedule(schedule_id).reserved == 1
