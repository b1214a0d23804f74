"""Holds and pages over HTTP, in every example app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

from tests.web.conftest import WebClient
from tests.web.test_error_mapping import schedule

NewId = Callable[[str], str]


def test_hold_then_confirm(web: WebClient, new_id: NewId) -> None:
    schedule_id, user_id = schedule(web, new_id), new_id("user")
    held = web.post(
        f"/schedules/{schedule_id}/holds",
        {"user_id": user_id, "quantity": 2, "hold_for_seconds": 300},
    )
    assert (held.status, held.body["status"]) == (201, "HELD")
    expires_at = datetime.fromisoformat(held.body["expires_at"])
    created_at = datetime.fromisoformat(held.body["created_at"])
    assert expires_at - created_at == timedelta(seconds=300)
    assert web.get(f"/schedules/{schedule_id}").body["remaining"] == 0
    confirmed = web.post(f"/reservations/{held.body['id']}/confirm")
    assert (confirmed.status, confirmed.body["status"]) == (200, "CONFIRMED")
    again = web.post(f"/reservations/{held.body['id']}/confirm")
    assert (again.status, again.body) == (200, confirmed.body)


def test_confirming_a_lapsed_hold_is_410(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id)
    held = web.post(
        f"/schedules/{schedule_id}/holds",
        {"user_id": new_id("user"), "hold_for_seconds": 0.000001},  # lapsed once answered
    )
    answer = web.post(f"/reservations/{held.body['id']}/confirm")
    assert (answer.status, answer.body["code"]) == (410, "HOLD_EXPIRED")
    assert web.get(f"/reservations/{held.body['id']}").body["status"] == "EXPIRED"
    assert web.get(f"/schedules/{schedule_id}").body["reserved"] == 0


def test_bad_hold_for_is_422_naming_it(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id)
    for bad in (0, -5, "soon", None, 10**12):
        answer = web.post(
            f"/schedules/{schedule_id}/holds", {"user_id": "u", "hold_for_seconds": bad}
        )
        assert (answer.status, answer.body["details"]["field"]) == (422, "hold_for"), bad


def test_list_reservations_pages_with_a_cursor(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id, capacity=5)
    made = [
        web.post(f"/schedules/{schedule_id}/reservations", {"user_id": f"u{n}"}).body
        for n in range(3)
    ]
    first = web.get(f"/reservations?schedule_id={schedule_id}&limit=2")
    assert first.status == 200
    assert len(first.body["items"]) == 2
    rest = web.get(
        f"/reservations?schedule_id={schedule_id}&limit=2&after={quote(first.body['next_cursor'])}"
    )
    assert rest.body["next_cursor"] is None
    listed = first.body["items"] + rest.body["items"]
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in made)
    held = web.get(f"/reservations?schedule_id={schedule_id}&status=HELD")
    assert held.body == {"items": [], "next_cursor": None}


def test_list_reservations_refuses_bad_queries(web: WebClient, new_id: NewId) -> None:
    for query, field in [
        ("", "schedule_id"),
        ("?schedule_id=s&limit=lots", "limit"),
        ("?schedule_id=s&after=nonsense", "after"),
        ("?user_id=u&status=LOST", "status"),
    ]:
        answer = web.get(f"/reservations{query}")
        assert (answer.status, answer.body["details"]["field"]) == (422, field), query


def test_release_expired_holds_answers_a_count(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id)
    web.post(f"/schedules/{schedule_id}/holds", {"user_id": "u", "hold_for_seconds": 0.000001})
    answer = web.post("/holds/release-expired")
    assert answer.status == 200
    assert answer.body["expired"] >= 1
    assert web.get(f"/schedules/{schedule_id}").body["reserved"] == 0
