"""Every path that decides whether bookings fit decides as the domain's rule does.

The rule has one home, ``reservation_core.domain._booking``: a booking fits when its
schedule exists, its user holds no active reservation there, and its seats remain; a
group is decided as one by one in arrival order. The in-memory store and the SQL
adapter's generic group path call it; PostgreSQL's group statement and MariaDB's group
script (on an engine from ``recommended_engine_options(dedicated=True)``, the suites'
dedicated-engine run) repeat it in SQL, and the single booking's conditional ``UPDATE``
repeats "its seats remain". This file feeds each of them the same cases and compares
their decisions with the rule's, case by case. A new rule in the domain is a new row
here, which every path must then pass.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest

from reservation_core.domain import Reservation, ReservationStatus
from reservation_core.domain._booking import decide_group, fits
from reservation_core.ports import DuplicateReservationError
from tests.backends import Backend
from tests.conftest import BACKEND_NAMES, make_backend

AT = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend's own unit of work (group commit never runs in a host transaction)."""
    return make_backend(request, request.param)


@dataclasses.dataclass(frozen=True)
class Case:
    """Schedules (capacity, seats already taken by ``active`` users), then a group."""

    name: str
    #: schedule -> capacity; a schedule named here but absent from ``capacities`` is
    #: missing from the store.
    capacities: dict[str, int]
    #: (schedule, user, quantity) booked before the group: active reservations.
    active: tuple[tuple[str, str, int], ...]
    #: (schedule, user, quantity), in arrival order.
    group: tuple[tuple[str, str, int], ...]


CASES = [
    Case("all fit", {"a": 5}, (), (("a", "u1", 1), ("a", "u2", 2), ("a", "u3", 2))),
    Case("exactly full", {"a": 3}, (("a", "old", 1),), (("a", "u1", 2), ("a", "u2", 1))),
    Case("one too many", {"a": 3}, (("a", "old", 2),), (("a", "u1", 1), ("a", "u2", 1))),
    Case(
        "a big one refused, a small one after it fits",
        {"a": 4},
        (),
        (("a", "u1", 2), ("a", "u2", 3), ("a", "u3", 2)),
    ),
    Case("the user is already active", {"a": 9}, (("a", "u1", 1),), (("a", "u1", 1),)),
    Case("the same user twice in a group", {"a": 9}, (), (("a", "u1", 1), ("a", "u1", 2))),
    Case("the same user on two schedules", {"a": 1, "b": 1}, (), (("a", "u", 1), ("b", "u", 1))),
    Case("a missing schedule", {"a": 2}, (), (("gone", "u1", 1), ("a", "u2", 1))),
    Case("a full schedule", {"a": 0, "b": 1}, (), (("a", "u1", 1), ("b", "u2", 1))),
    Case(
        "two schedules interleaved",
        {"a": 2, "b": 3},
        (("b", "old", 1),),
        (("a", "u1", 1), ("b", "u2", 2), ("a", "u3", 1), ("b", "u4", 1), ("a", "u5", 1)),
    ),
]


def _reservation(schedule_id: str, user_id: str, quantity: int) -> Reservation:
    return Reservation(
        id=str(uuid.uuid4()),
        schedule_id=schedule_id,
        user_id=user_id,
        quantity=quantity,
        status=ReservationStatus.CONFIRMED,
        created_at=AT,
        updated_at=AT,
    )


def _arrange(backend: Backend, case: Case) -> tuple[dict[str, str], str]:
    """The case's schedules and active reservations, under fresh ids; (ids, user prefix)."""
    tag = uuid.uuid4().hex[:10]
    ids = {
        name: f"decide-{tag}-{name}"
        for name in {s for s, _, _ in case.group} | set(case.capacities)
    }
    service = backend.service(group_commit=False)
    for name, capacity in case.capacities.items():
        service.create_schedule(ids[name], capacity)
    for name, user, quantity in case.active:
        service.create_reservation(ids[name], f"{tag}-{user}", quantity=quantity)
    return ids, tag


def _expected(case: Case, group: list[Reservation], ids: dict[str, str], tag: str) -> list[bool]:
    """The domain's decision for the case."""
    free = {ids[name]: capacity for name, capacity in case.capacities.items()}
    for name, _, quantity in case.active:
        free[ids[name]] -= quantity
    taken = {(ids[name], f"{tag}-{user}") for name, user, _ in case.active}
    return decide_group(group, free, taken)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_group_is_decided_as_the_rule_decides(backend: Backend, case: Case) -> None:
    ids, tag = _arrange(backend, case)
    group = [
        _reservation(ids[name], f"{tag}-{user}", quantity) for name, user, quantity in case.group
    ]
    expected = _expected(case, group, ids, tag)

    with backend.make_uow() as uow:
        booked = uow.add_group_and_commit(group)

    # A path may leave out a member after one on its schedule that the rule refused (the
    # service books it alone afterwards); it never books one the rule refuses, and never
    # leaves out one the rule books before any refusal on its schedule.
    refused_before: set[str] = set()
    for reservation, path, rule in zip(group, booked, expected, strict=True):
        assert not (path and not rule), f"{reservation} booked against the rule"
        if rule and reservation.schedule_id not in refused_before:
            assert path, f"{reservation} left out, the rule books it"
        if not rule:
            refused_before.add(reservation.schedule_id)
    for name, capacity in case.capacities.items():
        tally = backend.tally(ids[name])
        assert tally.consistent
        assert tally.capacity == capacity


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_one_booking_is_decided_as_the_rule_decides(backend: Backend, case: Case) -> None:
    ids, tag = _arrange(backend, case)
    name, user, quantity = case.group[-1]
    reservation = _reservation(ids[name], f"{tag}-{user}", quantity)
    active = {(ids[n], f"{tag}-{u}") for n, u, _ in case.active}
    seats = {ids[n]: c for n, c in case.capacities.items()}
    for n, _, q in case.active:
        seats[ids[n]] -= q

    fit = fits(quantity, seats.get(reservation.schedule_id))

    with backend.make_uow() as uow:
        if fit and (reservation.schedule_id, reservation.user_id) in active:
            with pytest.raises(DuplicateReservationError):
                uow.add_reservation_and_commit(reservation)
            return
        booked = uow.add_reservation_and_commit(reservation)

    assert booked is fit


def test_the_fast_paths_leave_a_schedule_with_pools_to_the_path_that_locks_them(
    backend: Backend,
) -> None:
    """A schedule with pools is never booked by a path that locks its row alone.

    Every group path and the single booking's fast path answer "not booked" for it,
    taking no seat anywhere; the service then books it under the lock of its pools too.
    """
    tag = uuid.uuid4().hex[:10]
    pool, pooled, plain = (f"decide-{tag}-{name}" for name in ("pool", "pooled", "plain"))
    service = backend.service(group_commit=False)
    service.create_schedule(pool, 5)
    service.create_schedule(pooled, 5, pools=[pool])
    service.create_schedule(plain, 5)
    group = [
        _reservation(pooled, f"{tag}-u1", 1),
        _reservation(plain, f"{tag}-u2", 1),
        _reservation(pooled, f"{tag}-u3", 1),
    ]
    with backend.make_uow() as uow:
        assert uow.add_group_and_commit(group) == [False, True, False]
    with backend.make_uow() as uow:
        assert uow.add_reservation_and_commit(_reservation(pooled, f"{tag}-u4", 1)) is False
    assert [service.get_schedule(sid).reserved for sid in (pool, pooled, plain)] == [0, 0, 1]
    service.create_reservation(pooled, f"{tag}-u5", quantity=2)
    assert [service.get_schedule(sid).reserved for sid in (pool, pooled, plain)] == [2, 2, 1]
