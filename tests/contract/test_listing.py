"""list_reservations: keyset pages by schedule, by user, by status — on every backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from reservation_core import (
    BusinessException,
    ErrorCode,
    Reservation,
    ReservationPage,
    ReservationService,
    ReservationStatus,
)
from tests.backends import Backend
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(backend: Backend, clock: Clock) -> ReservationService:
    return backend.service(clock=clock)


def every_page(service: ReservationService, **filters: Any) -> list[ReservationPage]:
    pages = [service.list_reservations(**filters)]
    while pages[-1].next_cursor is not None:
        pages.append(service.list_reservations(**filters, after=pages[-1].next_cursor))
    return pages


def order(reservations: list[Reservation]) -> list[Reservation]:
    return sorted(reservations, key=lambda r: (r.created_at, r.id))


def test_pages_of_a_schedule_cover_it_once_in_created_order(
    service: ReservationService, clock: Clock, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    service.create_schedule(sid, 20)
    made = []
    for n in range(7):
        made.append(service.create_reservation(sid, f"user-{n}"))
        if n % 3 == 0:  # several share one instant: the id orders them
            clock.now += timedelta(microseconds=1)
    pages = every_page(service, schedule_id=sid, limit=3)
    assert [len(page.items) for page in pages] == [3, 3, 1]
    assert [r for page in pages for r in page.items] == order(made)
    assert pages[-1].next_cursor is None
    assert all(isinstance(page.items, tuple) for page in pages)


def test_an_exact_last_page_has_no_cursor(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    service.create_schedule(sid, 5)
    made = [service.create_reservation(sid, f"u{n}") for n in range(2)]
    page = service.list_reservations(schedule_id=sid, limit=2)
    assert (page.items, page.next_cursor) == (tuple(order(made)), None)
    empty = service.list_reservations(schedule_id=new_id("none"))
    assert (empty.items, empty.next_cursor) == ((), None)


def test_by_user_across_schedules_and_by_user_on_one(
    service: ReservationService, clock: Clock, new_id: Callable[[str], str]
) -> None:
    user, other = new_id("user"), new_id("user")
    schedules = [new_id("s") for _ in range(3)]
    mine = []
    for sid in schedules:
        service.create_schedule(sid, 5)
        clock.now += timedelta(seconds=1)
        mine.append(service.hold_reservation(sid, user))
        service.create_reservation(sid, other)
    listed = [r for page in every_page(service, user_id=user, limit=2) for r in page.items]
    assert listed == mine
    one = service.list_reservations(schedule_id=schedules[1], user_id=user)
    assert one.items == (mine[1],)


def test_status_narrows_and_pages_see_the_state_now(
    service: ReservationService, clock: Clock, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    service.create_schedule(sid, 10)
    made = [service.hold_reservation(sid, f"u{n}") for n in range(4)]
    clock.now += timedelta(seconds=1)
    confirmed = service.confirm_reservation(made[1].id)
    cancelled = service.cancel_reservation(made[2].id)
    held = service.list_reservations(schedule_id=sid, status=ReservationStatus.HELD)
    assert {r.id for r in held.items} == {made[0].id, made[3].id}
    by_name = service.list_reservations(schedule_id=sid, status="CONFIRMED")
    assert by_name.items == (confirmed,)
    assert cancelled in service.list_reservations(schedule_id=sid).items


def test_reservations_made_while_paging_come_on_later_pages(
    service: ReservationService, clock: Clock, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    service.create_schedule(sid, 10)
    first = [service.create_reservation(sid, f"u{n}") for n in range(3)]
    page = service.list_reservations(schedule_id=sid, limit=2)
    clock.now += timedelta(seconds=1)
    late = service.create_reservation(sid, "late")
    rest = every_page(service, schedule_id=sid, limit=2, after=page.next_cursor)
    seen = list(page.items) + [r for p in rest for r in p.items]
    assert seen == [*order(first), late]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "schedule_id"),
        ({"status": "CONFIRMED"}, "schedule_id"),
        ({"schedule_id": ""}, "schedule_id"),
        ({"user_id": 7}, "user_id"),
        ({"schedule_id": "s", "limit": 0}, "limit"),
        ({"schedule_id": "s", "limit": 1001}, "limit"),
        ({"schedule_id": "s", "limit": True}, "limit"),
        ({"schedule_id": "s", "status": "PENDING"}, "status"),
        ({"schedule_id": "s", "status": 1}, "status"),
        ({"schedule_id": "s", "after": "not a cursor"}, "after"),
        ({"schedule_id": "s", "after": ""}, "after"),
        ({"schedule_id": "s", "after": "WzEsIDJd"}, "after"),  # base64 JSON of [1, 2]
        ({"schedule_id": "s", "after": 12}, "after"),
    ],
)
def test_bad_arguments_are_validation_errors(
    service: ReservationService, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(BusinessException) as info:
        service.list_reservations(**arguments)
    assert (info.value.code, info.value.details["field"]) == (ErrorCode.VALIDATION_ERROR, field)


def test_a_cursor_is_an_opaque_string(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    service.create_schedule(sid, 5)
    for n in range(2):
        service.create_reservation(sid, f"u{n}")
    cursor = service.list_reservations(schedule_id=sid, limit=1).next_cursor
    assert isinstance(cursor, str)
    assert cursor.isascii()
    assert "/" not in cursor
    with pytest.raises(BusinessException) as info:
        service.list_reservations(schedule_id=sid, after=cursor[:-2])
    assert info.value.details["field"] == "after"
