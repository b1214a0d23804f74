"""The kit's public pieces: strategies mean what they say, and Hypothesis stays optional."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from hypothesis import find, given
from hypothesis import strategies as st

import reservation_core.testing as kit
from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork


@pytest.fixture(scope="module")
def service() -> ReservationService:
    # Module-scoped: the probes below only read, or create under ids they never repeat.
    store = InMemoryStore()
    return ReservationService(lambda: InMemoryUnitOfWork(store))


def refusal(call: Callable[[], object]) -> BusinessException | None:
    try:
        call()
    except BusinessException as exc:
        return exc
    return None


@given(schedule_id=kit.valid_ids())
def test_valid_ids_pass_validation(service: ReservationService, schedule_id: str) -> None:
    exc = refusal(lambda: service.get_schedule(schedule_id))
    assert exc is not None
    assert exc.code is ErrorCode.SCHEDULE_NOT_FOUND


@given(schedule_id=kit.invalid_ids())
def test_invalid_ids_are_refused(service: ReservationService, schedule_id: object) -> None:
    exc = refusal(lambda: service.get_schedule(schedule_id))
    assert exc is not None
    assert (exc.code, exc.details["field"]) == (ErrorCode.VALIDATION_ERROR, "schedule_id")


@given(capacity=kit.valid_capacities())
def test_valid_capacities_are_accepted(service: ReservationService, capacity: int) -> None:
    assert service.create_schedule(f"cap-{uuid.uuid4()}", capacity).capacity == capacity


@given(capacity=kit.invalid_capacities())
def test_invalid_capacities_are_refused(service: ReservationService, capacity: object) -> None:
    exc = refusal(lambda: service.create_schedule("never-created", capacity))
    assert exc is not None
    assert (exc.code, exc.details["field"]) == (ErrorCode.VALIDATION_ERROR, "capacity")


@given(quantity=kit.valid_quantities())
def test_valid_quantities_pass_validation(service: ReservationService, quantity: int) -> None:
    exc = refusal(lambda: service.create_reservation("no-such-schedule", "u", quantity=quantity))
    assert exc is not None
    assert exc.code is ErrorCode.SCHEDULE_NOT_FOUND


@given(quantity=kit.invalid_quantities())
def test_invalid_quantities_are_refused(service: ReservationService, quantity: object) -> None:
    exc = refusal(lambda: service.create_reservation("no-such-schedule", "u", quantity=quantity))
    assert exc is not None
    assert (exc.code, exc.details["field"]) == (ErrorCode.VALIDATION_ERROR, "quantity")


@pytest.mark.parametrize(
    ("strategy", "edge"),
    [
        (kit.valid_ids(), lambda s: len(s) == kit.MAX_ID_LENGTH),
        (kit.valid_ids(), lambda s: any(len(c.encode()) == 4 for c in s)),
        (kit.valid_ids(), lambda s: s == "a "),
        (kit.invalid_ids(), lambda v: v == ""),
        (kit.invalid_ids(), lambda v: isinstance(v, str) and len(v) > kit.MAX_ID_LENGTH),
        (kit.invalid_ids(), lambda v: isinstance(v, str) and any(c < " " for c in v)),
        (
            kit.invalid_ids(),
            lambda v: isinstance(v, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in v),
        ),
        (kit.invalid_ids(), lambda v: v is True),
        (kit.invalid_ids(), lambda v: isinstance(v, int) and not isinstance(v, bool)),
        (kit.valid_capacities(), lambda n: n == 0),
        (kit.valid_capacities(), lambda n: n == kit.MAX_COUNT),
        (kit.invalid_capacities(), lambda n: n is False),
        (kit.invalid_capacities(), lambda n: n == kit.MAX_COUNT + 1 and type(n) is int),
        (kit.invalid_capacities(), lambda n: type(n) is int and n < 0),
        (kit.invalid_quantities(), lambda n: n == 0 and type(n) is int),
    ],
)
def test_strategies_reach_the_edges(
    strategy: st.SearchStrategy[object], edge: Callable[[object], bool]
) -> None:
    # find() raises NoSuchExample if the strategy never yields the edge.
    assert edge(find(strategy, edge))


def test_valid_ids_leave_room_for_a_prefix() -> None:
    assert len(find(kit.valid_ids(max_size=5), lambda s: len(s) >= 5)) == 5
    with pytest.raises(ValueError, match="max_size"):
        kit.valid_ids(max_size=65)


def test_importing_the_library_does_not_import_hypothesis() -> None:
    code = (
        "import sys, reservation_core, reservation_core.adapters.memory\n"
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)  # noqa: S603
