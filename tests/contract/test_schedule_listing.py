"""list_schedules: keyset pages of schedules in id order — on every backend.

The suites share their databases, so each test pages through every schedule there and
looks at its own (ids of one prefix and one length, ordered alike by every collation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reservation_core import BusinessException, ErrorCode, ReservationService, SchedulePage
from tests.backends import Backend


@pytest.fixture
def service(backend: Backend) -> ReservationService:
    return backend.service()


def every_page(service: ReservationService, limit: int) -> list[SchedulePage]:
    pages = [service.list_schedules(limit=limit)]
    while pages[-1].next_cursor is not None:
        pages.append(service.list_schedules(limit=limit, after=pages[-1].next_cursor))
    return pages


def test_pages_cover_every_schedule_once_in_id_order(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    prefix = new_id("ls")
    made = [service.create_schedule(f"{prefix}-{n:02}", n) for n in (7, 3, 11, 0, 5)]
    service.create_reservation(made[0].id, "alice", quantity=2)
    pages = every_page(service, limit=1000)
    seen = [s for page in pages for s in page.items]
    ids = [s.id for s in seen]
    assert len(ids) == len(set(ids))
    mine = [s for s in seen if s.id.startswith(prefix)]
    assert [s.id for s in mine] == sorted(s.id for s in made)
    by_id = {s.id: s for s in mine}
    assert by_id[made[0].id] == service.get_schedule(made[0].id)
    assert (by_id[made[0].id].capacity, by_id[made[0].id].reserved) == (7, 2)
    assert pages[-1].next_cursor is None
    assert all(isinstance(page.items, tuple) for page in pages)


def test_small_pages_resume_after_the_cursor(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    prefix = new_id("lp")
    for n in range(5):
        service.create_schedule(f"{prefix}-{n}", 1)
    pages = every_page(service, limit=2)
    assert all(len(page.items) == 2 for page in pages[:-1])
    assert 1 <= len(pages[-1].items) <= 2
    ids = [s.id for page in pages for s in page.items]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if i.startswith(prefix)] == [f"{prefix}-{n}" for n in range(5)]


def test_an_exact_last_page_has_no_cursor(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    service.create_schedule(new_id("le"), 1)
    pages = every_page(service, limit=1000)
    total = sum(len(page.items) for page in pages)
    exact = service.list_schedules(limit=len(pages[-1].items), after=cursor_before(pages))
    assert exact.items == pages[-1].items
    assert exact.next_cursor is None
    assert total >= 1


def cursor_before(pages: list[SchedulePage]) -> str | None:
    return pages[-2].next_cursor if len(pages) > 1 else None


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": "5"}, "limit"),
        ({"after": ""}, "after"),
        ({"after": 5}, "after"),
        ({"after": "not a cursor"}, "after"),
        ({"after": "W10"}, "after"),  # an empty JSON array
        ({"after": "WyIiXQ"}, "after"),  # [""]: no schedule has an empty id
        ({"after": "x" * 401}, "after"),
    ],
)
def test_bad_arguments_are_validation_errors(
    service: ReservationService, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(BusinessException) as info:
        service.list_schedules(**arguments)
    assert (info.value.code, info.value.details["field"]) == (ErrorCode.VALIDATION_ERROR, field)


def test_a_cursor_is_opaque_and_not_one_of_list_reservations(
    service: ReservationService, new_id: Callable[[str], str]
) -> None:
    sid = new_id("lc")
    service.create_schedule(sid, 5)
    service.create_schedule(sid + "-b", 5)
    for n in range(2):
        service.create_reservation(sid, f"u{n}")
    cursor = service.list_schedules(limit=1).next_cursor
    assert isinstance(cursor, str)
    assert cursor.isascii()
    assert "/" not in cursor
    reservation_cursor = service.list_reservations(schedule_id=sid, limit=1).next_cursor
    for wrong in (reservation_cursor, cursor[:-2]):
        with pytest.raises(BusinessException) as info:
            service.list_schedules(after=wrong)
        assert info.value.details["field"] == "after"
    with pytest.raises(BusinessException) as info:
        service.list_reservations(schedule_id=sid, after=cursor)
    assert info.value.details["field"] == "after"
