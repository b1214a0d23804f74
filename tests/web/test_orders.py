"""Orders and pools over HTTP, in every example app, as the user of ``X-User-Id``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.web.conftest import Answer, WebClient
from tests.web.test_error_mapping import schedule

NewId = Callable[[str], str]


def order(web: WebClient, user: str, lines: list[dict[str, Any]], **fields: Any) -> Answer:
    return web.post("/orders", {"lines": lines, **fields}, user=user)


def remaining(web: WebClient, *schedule_ids: str) -> list[int]:
    return [web.get(f"/schedules/{sid}").body["remaining"] for sid in schedule_ids]


def test_an_order_is_booked_read_and_replayed(web: WebClient, new_id: NewId) -> None:
    talk, workshop, user = schedule(web, new_id, 5), schedule(web, new_id, 1), new_id("user")
    lines = [{"schedule_id": talk, "quantity": 2}, {"schedule_id": workshop}]
    key = {"Idempotency-Key": new_id("checkout")}
    booked = web.post("/orders", {"lines": lines}, user=user, **key)
    assert (booked.status, booked.media_type) == (201, "application/json")
    order_id = booked.body["order_id"]
    assert [
        (line["schedule_id"], line["quantity"], line["status"], line["order_id"], line["user_id"])
        for line in booked.body["lines"]
    ] == [(talk, 2, "CONFIRMED", order_id, user), (workshop, 1, "CONFIRMED", order_id, user)]
    assert remaining(web, talk, workshop) == [3, 0]
    assert web.get(f"/orders/{order_id}", user=user).body == booked.body
    line = booked.body["lines"][1]
    assert web.get(f"/reservations/{line['id']}", user=user).body == line
    again = web.post("/orders", {"lines": lines}, user=user, **key)
    assert (again.status, again.body) == (201, booked.body)
    reused = web.post("/orders", {"lines": lines[::-1]}, user=user, **key)
    assert (reused.status, reused.body["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert remaining(web, talk, workshop) == [3, 0]


def test_a_refused_order_leaves_nothing_and_names_its_line(web: WebClient, new_id: NewId) -> None:
    talk, workshop, user = schedule(web, new_id, 5), schedule(web, new_id, 1), new_id("user")
    short = order(
        web, user, [{"schedule_id": talk, "quantity": 2}, {"schedule_id": workshop, "quantity": 2}]
    )
    assert (short.status, short.body) == (
        400,
        {
            "code": "CAPACITY_EXCEEDED",
            "message": "Not enough seats remain on this schedule.",
            "details": {"requested": 2, "remaining": 1, "line": 1},
        },
    )
    unknown = order(web, user, [{"schedule_id": "no-such-schedule"}, {"schedule_id": talk}])
    assert (unknown.status, unknown.body["code"]) == (404, "SCHEDULE_NOT_FOUND")
    assert unknown.body["details"] == {"schedule_id": "no-such-schedule", "line": 0}
    assert remaining(web, talk, workshop) == [5, 1]
    assert web.get("/reservations", user=user).body == {"items": [], "next_cursor": None}


def test_a_held_order_confirms_then_cancels_whole(web: WebClient, new_id: NewId) -> None:
    talk, workshop, user = schedule(web, new_id, 5), schedule(web, new_id, 1), new_id("user")
    held = order(
        web, user, [{"schedule_id": talk}, {"schedule_id": workshop}], hold_for_seconds=300
    )
    assert held.status == 201
    assert {line["status"] for line in held.body["lines"]} == {"HELD"}
    assert len({line["expires_at"] for line in held.body["lines"]}) == 1
    path = f"/orders/{held.body['order_id']}"
    confirmed = web.post(f"{path}/confirm", user=user)
    assert (confirmed.status, [line["status"] for line in confirmed.body["lines"]]) == (
        200,
        ["CONFIRMED", "CONFIRMED"],
    )
    again = web.post(f"{path}/confirm", user=user)
    assert (again.status, again.body) == (200, confirmed.body)
    cancelled = web.post(f"{path}/cancel", user=user)
    assert (cancelled.status, [line["status"] for line in cancelled.body["lines"]]) == (
        200,
        ["CANCELLED", "CANCELLED"],
    )
    assert remaining(web, talk, workshop) == [5, 1]
    twice = web.post(f"{path}/cancel", user=user)
    assert (twice.status, twice.body["code"]) == (400, "RESERVATION_ALREADY_CANCELLED")


def test_confirming_a_lapsed_order_is_410_and_expires_every_line(
    web: WebClient, new_id: NewId
) -> None:
    talk, workshop, user = schedule(web, new_id, 5), schedule(web, new_id, 1), new_id("user")
    held = order(
        web, user, [{"schedule_id": talk}, {"schedule_id": workshop}], hold_for_seconds=0.000001
    )
    path = f"/orders/{held.body['order_id']}"
    lapsed = web.post(f"{path}/confirm", user=user)
    assert (lapsed.status, lapsed.body["code"]) == (410, "HOLD_EXPIRED")
    lines = web.get(path, user=user).body["lines"]
    assert [line["status"] for line in lines] == ["EXPIRED", "EXPIRED"]
    assert remaining(web, talk, workshop) == [5, 1]


def test_a_sub_microsecond_hold_is_422_naming_hold_for_seconds(
    web: WebClient, new_id: NewId
) -> None:
    """It would round to a zero ``timedelta``: refused as sent, not as the service's hold_for."""
    talk, user = schedule(web, new_id), new_id("user")
    answer = order(web, user, [{"schedule_id": talk}], hold_for_seconds=0.0000004)
    assert (answer.status, answer.body["details"]) == (
        422,
        {
            "field": "hold_for_seconds",
            "reason": "must be at least 0.000001 seconds",
            "value": 0.0000004,
        },
    )
    assert remaining(web, talk) == [2]
    assert web.get("/reservations", user=user).body == {"items": [], "next_cursor": None}


def test_another_users_order_is_not_found(web: WebClient, new_id: NewId) -> None:
    user = new_id("user")
    booked = order(web, user, [{"schedule_id": schedule(web, new_id)}])
    order_id = booked.body["order_id"]
    for answer in (
        web.get(f"/orders/{order_id}", user=new_id("other")),
        web.post(f"/orders/{order_id}/confirm", user=new_id("other")),
        web.post(f"/orders/{order_id}/cancel", user=new_id("other")),
        web.get("/orders/no-such-order", user=user),
    ):
        assert (answer.status, answer.body["code"]) == (404, "ORDER_NOT_FOUND")
        assert answer.body["details"] == {"order_id": answer.body["details"]["order_id"]}
    assert web.get(f"/orders/{order_id}", user=new_id("other")).body["details"] == {
        "order_id": order_id
    }
    assert web.get(f"/orders/{order_id}").status == 401
    assert web.post("/orders", {"lines": [{"schedule_id": "s"}]}).status == 401
    assert web.get(f"/orders/{order_id}", user=user).body["lines"][0]["status"] == "CONFIRMED"


@pytest.mark.parametrize(
    ("body", "reason", "shown"),
    [
        ({}, "is required", None),
        ({"lines": {"schedule_id": "s"}}, "must be an array", "object"),
        ({"lines": "s"}, "must be an array", "string"),
        ({"lines": []}, "must hold 1 to 50 lines", 0),
        ({"lines": ["s"]}, "line 0 must be an object", "string"),
        ({"lines": [{"schedule_id": "s"}, 7]}, "line 1 must be an object", "number"),
        ({"lines": [{"schedule_id": 7}]}, "line 0: must be a string", 7),
        ({"lines": [{"schedule_id": "s", "quantity": 0}]}, "line 0: must be at least 1", 0),
        (
            {"lines": [{"schedule_id": "s"}, {"schedule_id": "s"}]},
            "line 1 repeats a schedule: one line each",
            "s",
        ),
    ],
)
def test_bad_lines_are_422_naming_lines(
    web: WebClient, body: dict[str, Any], reason: str, shown: Any
) -> None:
    answer = web.post("/orders", body, user="u")
    details = {"field": "lines", "reason": reason}
    if shown is not None:
        details["value"] = shown
    assert (answer.status, answer.body["code"], answer.body["details"]) == (
        422,
        "VALIDATION_ERROR",
        details,
    )


def test_a_booking_on_a_pooled_schedule_is_refused_short_on_its_pool(
    web: WebClient, new_id: NewId
) -> None:
    room, workshop = schedule(web, new_id, 3), new_id("workshop")
    made = web.post("/schedules", {"schedule_id": workshop, "capacity": 3, "pools": [room]})
    assert (made.status, made.body) == (
        201,
        {
            "id": workshop,
            "capacity": 3,
            "reserved": 0,
            "pools": [room],
            "waitlisted": 0,
            "remaining": 3,
        },
    )
    assert (
        web.post(f"/schedules/{room}/reservations", {"quantity": 2}, user="walk-in").status == 201
    )
    short = web.post(f"/schedules/{workshop}/reservations", {"quantity": 2}, user=new_id("u"))
    assert (short.status, short.body["details"]) == (
        400,
        {"requested": 2, "remaining": 1, "schedule_id": room},
    )
    assert remaining(web, room, workshop) == [1, 3]
    booked = order(web, new_id("u"), [{"schedule_id": workshop}])
    assert booked.status == 201
    assert remaining(web, room, workshop) == [0, 2]


@pytest.mark.parametrize(
    ("pools", "status", "details"),
    [
        ("room", 422, {"field": "pools", "reason": "must be an array", "value": "string"}),
        ({"room": 1}, 422, {"field": "pools", "reason": "must be an array", "value": "object"}),
        ([7], 422, {"field": "pools", "reason": "must be a string", "value": 7}),
        (["no-such-pool"], 404, {"schedule_id": "no-such-pool"}),
    ],
)
def test_bad_pools_are_refused_and_create_nothing(
    web: WebClient, new_id: NewId, pools: Any, status: int, details: dict[str, Any]
) -> None:
    schedule_id = new_id("sched")
    answer = web.post("/schedules", {"schedule_id": schedule_id, "capacity": 1, "pools": pools})
    assert (answer.status, answer.body["details"]) == (status, details)
    assert web.get(f"/schedules/{schedule_id}").status == 404


def test_pools_are_one_level_deep(web: WebClient, new_id: NewId) -> None:
    room = schedule(web, new_id)
    workshop = new_id("workshop")
    web.post("/schedules", {"schedule_id": workshop, "capacity": 1, "pools": [room]})
    nested = web.post(
        "/schedules", {"schedule_id": new_id("s"), "capacity": 1, "pools": [workshop]}
    )
    assert (nested.status, nested.body["details"]["field"]) == (422, "pools")
