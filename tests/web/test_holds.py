"""Holds and pages over HTTP, in every example app, as the user of ``X-User-Id``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

from tests.web.conftest import WebClient
from tests.web.test_error_mapping import schedule

NewId = Callable[[str], str]


def test_hold_then_confirm(web: WebClient, new_id: NewId) -> None:
    schedule_id, user = schedule(web, new_id), new_id("user")
    held = web.post(
        f"/schedules/{schedule_id}/holds", {"quantity": 2, "hold_for_seconds": 300}, user=user
    )
    assert (held.status, held.body["status"]) == (201, "HELD")
    assert held.body["user_id"] == user
    expires_at = datetime.fromisoformat(held.body["expires_at"])
    created_at = datetime.fromisoformat(held.body["created_at"])
    assert expires_at - created_at == timedelta(seconds=300)
    assert web.get(f"/schedules/{schedule_id}").body["remaining"] == 0
    someone_else = web.post(f"/reservations/{held.body['id']}/confirm", user=new_id("other"))
    assert (someone_else.status, someone_else.body["code"]) == (404, "RESERVATION_NOT_FOUND")
    confirmed = web.post(f"/reservations/{held.body['id']}/confirm", user=user)
    assert (confirmed.status, confirmed.body["status"]) == (200, "CONFIRMED")
    again = web.post(f"/reservations/{held.body['id']}/confirm", user=user)
    assert (again.status, again.body) == (200, confirmed.body)


def test_confirming_a_lapsed_hold_is_410(web: WebClient, new_id: NewId) -> None:
    schedule_id, user = schedule(web, new_id), new_id("user")
    held = web.post(
        f"/schedules/{schedule_id}/holds",
        {"hold_for_seconds": 0.000001},  # lapsed once answered
        user=user,
    )
    answer = web.post(f"/reservations/{held.body['id']}/confirm", user=user)
    assert (answer.status, answer.body["code"]) == (410, "HOLD_EXPIRED")
    assert web.get(f"/reservations/{held.body['id']}", user=user).body["status"] == "EXPIRED"
    assert web.get(f"/schedules/{schedule_id}").body["reserved"] == 0


def test_a_hold_needs_a_user(web: WebClient, new_id: NewId) -> None:
    answer = web.post(f"/schedules/{schedule(web, new_id)}/holds", {})
    assert answer.status == 401


def test_bad_hold_for_is_422_naming_it(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id)
    for bad in (0, -5, "soon", None, 10**12):
        answer = web.post(f"/schedules/{schedule_id}/holds", {"hold_for_seconds": bad}, user="u")
        assert (answer.status, answer.body["details"]["field"]) == (422, "hold_for"), bad


def test_list_reservations_pages_the_users_own_with_a_cursor(web: WebClient, new_id: NewId) -> None:
    user = new_id("user")
    made = [
        web.post(f"/schedules/{schedule(web, new_id)}/reservations", user=user).body
        for _ in range(3)
    ]
    web.post(f"/schedules/{schedule(web, new_id)}/reservations", user=new_id("other"))
    first = web.get("/reservations?limit=2", user=user)
    assert first.status == 200
    assert len(first.body["items"]) == 2
    rest = web.get(f"/reservations?limit=2&after={quote(first.body['next_cursor'])}", user=user)
    assert rest.body["next_cursor"] is None
    listed = first.body["items"] + rest.body["items"]
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in made)
    held = web.get(f"/reservations?schedule_id={made[0]['schedule_id']}&status=HELD", user=user)
    assert held.body == {"items": [], "next_cursor": None}
    assert web.get("/reservations").status == 401


def test_list_reservations_refuses_bad_queries(web: WebClient) -> None:
    for query, field in [
        ("?limit=lots", "limit"),
        ("?after=nonsense", "after"),
        ("?status=LOST", "status"),
    ]:
        answer = web.get(f"/reservations{query}", user="u")
        assert (answer.status, answer.body["details"]["field"]) == (422, field), query


def test_release_expired_holds_answers_a_count(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id)
    web.post(f"/schedules/{schedule_id}/holds", {"hold_for_seconds": 0.000001}, user="u")
    answer = web.post("/holds/release-expired")
    assert answer.status == 200
    assert answer.body["expired"] >= 1
    assert web.get(f"/schedules/{schedule_id}").body["reserved"] == 0
