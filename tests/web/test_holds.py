"""Holds and pages over HTTP, in every example app, as the user of ``X-User-Id``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from examples._common import MAX_PAGE_SIZE
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


@pytest.mark.parametrize(
    ("sent", "reason", "shown"),
    [
        (0, "must be positive", 0),
        (-5, "must be positive", -5),
        (-0.5, "must be positive", -0.5),
        # A timedelta counts microseconds: this would round to zero, and the service would
        # refuse its own hold_for. The example refuses the field as sent instead.
        (0.0000001, "must be at least 0.000001 seconds", 0.0000001),
        (5e-324, "must be at least 0.000001 seconds", 5e-324),
        (31_536_001, "must be at most 31536000 seconds", 31_536_001),
        (10**12, "must be at most 31536000 seconds", 10**12),
        (10**30, "must be at most 31536000 seconds", "number"),
        ("ten", "must be a number", "ten"),
        ("600", "must be a number", "600"),
        (None, "must be a number", "null"),
        (True, "must be a number", "boolean"),
        ([600], "must be a number", "array"),
        ({"s": 600}, "must be a number", "object"),
    ],
)
def test_bad_hold_for_seconds_is_422_naming_it_as_sent(
    web: WebClient, new_id: NewId, sent: Any, reason: str, shown: Any
) -> None:
    schedule_id = schedule(web, new_id)
    answer = web.post(f"/schedules/{schedule_id}/holds", {"hold_for_seconds": sent}, user="u")
    assert (answer.status, answer.body) == (
        422,
        {
            "code": "VALIDATION_ERROR",
            "message": f"hold_for_seconds: {reason}",
            "details": {"field": "hold_for_seconds", "reason": reason, "value": shown},
        },
    )
    assert web.get(f"/schedules/{schedule_id}").body["reserved"] == 0


def test_a_hold_of_up_to_365_days_is_taken(web: WebClient, new_id: NewId) -> None:
    """The example's limit is the library's (examples._common.MAX_HOLD_SECONDS)."""
    schedule_id = schedule(web, new_id)
    answer = web.post(f"/schedules/{schedule_id}/holds", {"hold_for_seconds": 31_536_000}, user="u")
    assert (answer.status, answer.body["status"]) == (201, "HELD")


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


def test_a_page_holds_up_to_the_described_limit(web: WebClient) -> None:
    """``examples._common.MAX_PAGE_SIZE``, described in the OpenAPI schema, is the library's."""
    assert web.get(f"/reservations?limit={MAX_PAGE_SIZE}", user="u").status == 200
    refused = web.get(f"/reservations?limit={MAX_PAGE_SIZE + 1}", user="u")
    assert (refused.status, refused.body["details"]["field"]) == (422, "limit")
