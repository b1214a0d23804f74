"""``reservation_core.adapters.sqlalchemy.audit`` from Python, on every SQL backend."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, create_engine

from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.adapters.sqlalchemy import AuditReport, ScheduleDrift, audit
from tests.concurrency.race import race

Plant = Callable[[str, str], None]


def _new_id() -> str:
    return f"audit-{uuid.uuid4().hex[:12]}"


def _confirmed_row(schedule_id: str, user_id: str) -> str:
    return (
        "INSERT INTO rc_reservations (id, schedule_id, user_id, quantity, status, created_at, "
        f"updated_at) VALUES ('{uuid.uuid4()}', :id, '{user_id}', 1, 'CONFIRMED', "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )


def test_a_consistent_schedule_has_no_drift(
    cli_engine: Engine, service: ReservationService
) -> None:
    schedule_id = _new_id()
    service.create_schedule(schedule_id, 3)
    service.refund_reservation(service.create_reservation(schedule_id, "u1").id)
    service.create_reservation(schedule_id, "u2", quantity=2)
    report = audit(cli_engine, schedule_ids=[schedule_id])
    assert report == AuditReport(schedules_checked=1, drifts=(), repair=False)
    assert report.consistent


def test_held_seats_count_and_are_repaired_to(
    cli_engine: Engine, service: ReservationService, plant: Plant
) -> None:
    schedule_id = _new_id()
    service.create_schedule(schedule_id, 5)
    service.hold_reservation(schedule_id, "u1", quantity=2)
    service.create_reservation(schedule_id, "u2")
    assert audit(cli_engine, schedule_ids=[schedule_id]).consistent
    plant(schedule_id, "UPDATE rc_schedules SET reserved = 1 WHERE id = :id")
    found = audit(cli_engine, repair=True, schedule_ids=[schedule_id])
    assert found.drifts == (
        ScheduleDrift(schedule_id, capacity=5, stored_reserved=1, actual_reserved=3, repaired=True),
    )
    assert service.get_schedule(schedule_id).reserved == 3


def test_drift_is_reported_then_repaired_under_the_lock(
    cli_engine: Engine, service: ReservationService, plant: Plant
) -> None:
    high, low = _new_id(), _new_id()
    for schedule_id in (high, low):
        service.create_schedule(schedule_id, 5)
        service.create_reservation(schedule_id, "u1", quantity=2)
    plant(high, "UPDATE rc_schedules SET reserved = 4 WHERE id = :id")
    plant(low, "UPDATE rc_schedules SET reserved = 0 WHERE id = :id")

    found = audit(cli_engine, schedule_ids=[high, low])
    assert sorted(found.drifts, key=lambda d: d.stored_reserved) == [
        ScheduleDrift(low, capacity=5, stored_reserved=0, actual_reserved=2),
        ScheduleDrift(high, capacity=5, stored_reserved=4, actual_reserved=2),
    ]
    assert not found.consistent
    assert service.get_schedule(high).reserved == 4  # looking changes nothing

    repaired = audit(cli_engine, repair=True, schedule_ids=[high, low])
    assert repaired.consistent
    assert all(drift.repaired and drift.repairable for drift in repaired.drifts)
    assert len(repaired.drifts) == 2
    assert service.get_schedule(high).reserved == service.get_schedule(low).reserved == 2
    assert audit(cli_engine, schedule_ids=[high, low]).drifts == ()


def test_an_overbooked_schedule_is_reported_never_changed(
    cli_engine: Engine, service: ReservationService, plant: Plant
) -> None:
    schedule_id = _new_id()
    service.create_schedule(schedule_id, 1)
    service.create_reservation(schedule_id, "u1")
    plant(schedule_id, _confirmed_row(schedule_id, "intruder"))

    report = audit(cli_engine, repair=True, schedule_ids=[schedule_id])
    (drift,) = report.drifts
    assert drift == ScheduleDrift(schedule_id, 1, 1, 2, repaired=False)
    assert not drift.repairable
    assert report.unrepaired == (drift,)
    assert not report.consistent
    assert service.get_schedule(schedule_id).reserved == 1


def test_repair_is_exact_while_bookings_race_it(
    cli_engine: Engine, service: ReservationService, plant: Plant
) -> None:
    schedule_id = _new_id()
    service.create_schedule(schedule_id, 10)
    service.create_reservation(schedule_id, "first")
    plant(schedule_id, "UPDATE rc_schedules SET reserved = 5 WHERE id = :id")
    bookings = [
        (lambda user=f"u{n}": service.create_reservation(schedule_id, user)) for n in range(8)
    ]
    race([lambda: audit(cli_engine, repair=True, schedule_ids=[schedule_id]), *bookings])
    assert audit(cli_engine, schedule_ids=[schedule_id]).consistent


def test_reports_are_frozen_values() -> None:
    drift = ScheduleDrift("s", 1, 0, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        drift.repaired = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        AuditReport(0, ()).repair = True  # type: ignore[misc]


def test_an_unreachable_database_is_storage_unavailable() -> None:
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(BusinessException) as caught:
        audit(engine)
    assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE
