"""Waiting lists over HTTP, in every example app, as the user of ``X-User-Id``.

Join a sold-out schedule, see one's place, get the seats freed by a cancel elsewhere as a
``HELD`` offer, accept it, or leave; another user's entry is not found, and a refused
join writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.web.conftest import Answer, WebClient
from tests.web.test_error_mapping import reserve, schedule

NewId = Callable[[str], str]

ENTRY_FIELDS = {
    "id",
    "schedule_id",
    "user_id",
    "quantity",
    "status",
    "position",
    "reservation_id",
    "created_at",
    "updated_at",
}


def join(web: WebClient, schedule_id: str, user: str | None, **body: Any) -> Answer:
    return web.post(f"/schedules/{schedule_id}/waitlist", body, user=user)


def entry(web: WebClient, entry_id: str, user: str) -> dict[str, Any]:
    answer = web.get(f"/waitlist/{entry_id}", user=user)
    assert answer.status == 200, answer
    body: dict[str, Any] = answer.body
    return body


def sold_out(web: WebClient, new_id: NewId, capacity: int = 2) -> tuple[str, dict[str, Any]]:
    """A schedule of ``capacity`` seats, every one booked by one reservation: its id, that."""
    schedule_id = schedule(web, new_id, capacity)
    return schedule_id, reserve(web, schedule_id, new_id, quantity=capacity)


def held_for(reservation: dict[str, Any]) -> timedelta:
    expires_at = datetime.fromisoformat(reservation["expires_at"])
    return expires_at - datetime.fromisoformat(reservation["created_at"])


def test_join_wait_be_offered_a_cancel_and_accept(web: WebClient, new_id: NewId) -> None:
    talk, booking = sold_out(web, new_id)
    bob, cy = new_id("bob"), new_id("cy")
    joined = join(web, talk, bob, offer_for_seconds=120)
    assert (joined.status, joined.media_type) == (201, "application/json")
    assert set(joined.body) == ENTRY_FIELDS
    assert (joined.body["schedule_id"], joined.body["user_id"]) == (talk, bob)
    assert (joined.body["quantity"], joined.body["status"], joined.body["position"]) == (
        1,
        "WAITING",
        1,
    )
    assert joined.body["reservation_id"] is None
    second = join(web, talk, cy, quantity=2)
    assert (second.status, second.body["status"], second.body["position"]) == (201, "WAITING", 2)
    assert entry(web, joined.body["id"], bob) == joined.body
    assert web.get(f"/schedules/{talk}").body["waitlisted"] == 2

    # Two seats come back: bob's one fits and is offered in the cancel's transaction;
    # cy wants two, one is left, and cy is now first in line.
    cancelled = web.post(f"/reservations/{booking['id']}/cancel", user=booking["user_id"])
    assert cancelled.status == 200
    offered = entry(web, joined.body["id"], bob)
    assert (offered["status"], offered["position"]) == ("OFFERED", None)
    assert offered["reservation_id"] is not None
    (hold,) = web.get("/reservations", user=bob).body["items"]
    assert (hold["id"], hold["schedule_id"], hold["status"]) == (
        offered["reservation_id"],
        talk,
        "HELD",
    )
    assert (hold["quantity"], held_for(hold)) == (1, timedelta(seconds=120))
    waiting = entry(web, second.body["id"], cy)
    assert (waiting["status"], waiting["position"]) == ("WAITING", 1)
    assert web.get(f"/schedules/{talk}").body["reserved"] == 1

    confirmed = web.post(f"/reservations/{hold['id']}/confirm", user=bob)
    assert (confirmed.status, confirmed.body["status"]) == (200, "CONFIRMED")
    accepted = entry(web, joined.body["id"], bob)
    assert (accepted["status"], accepted["reservation_id"]) == ("ACCEPTED", hold["id"])
    assert web.get(f"/schedules/{talk}").body["waitlisted"] == 1


def test_leave_takes_an_entry_off_the_list_once(web: WebClient, new_id: NewId) -> None:
    talk, _ = sold_out(web, new_id)
    ann, bob = new_id("ann"), new_id("bob")
    first = join(web, talk, ann).body
    second = join(web, talk, bob).body
    left = web.post(f"/waitlist/{first['id']}/leave", user=ann)
    assert (left.status, left.body["status"], left.body["position"]) == (200, "LEFT", None)
    assert entry(web, first["id"], ann) == left.body
    assert entry(web, second["id"], bob)["position"] == 1  # moved up
    assert web.get(f"/schedules/{talk}").body["waitlisted"] == 1
    again = web.post(f"/waitlist/{first['id']}/leave", user=ann)
    assert (again.status, again.body) == (
        409,
        {
            "code": "INVALID_STATE_TRANSITION",
            "message": "Only a WAITING or OFFERED entry can leave the waiting list.",
            "details": {"entry_id": first["id"], "status": "LEFT", "action": "leave"},
        },
    )


def test_leaving_with_an_offer_cancels_it_and_passes_the_seats_on(
    web: WebClient, new_id: NewId
) -> None:
    talk, booking = sold_out(web, new_id, capacity=1)
    ann, bob = new_id("ann"), new_id("bob")
    first = join(web, talk, ann).body
    second = join(web, talk, bob).body
    web.post(f"/reservations/{booking['id']}/refund", user=booking["user_id"])
    offer_id = entry(web, first["id"], ann)["reservation_id"]
    left = web.post(f"/waitlist/{first['id']}/leave", user=ann)
    assert (left.status, left.body["status"]) == (200, "LEFT")
    assert web.get(f"/reservations/{offer_id}", user=ann).body["status"] == "CANCELLED"
    passed_on = entry(web, second["id"], bob)
    assert passed_on["status"] == "OFFERED"
    assert web.get(f"/reservations/{passed_on['reservation_id']}", user=bob).body["status"] == (
        "HELD"
    )


def test_a_lapsed_offer_is_410_and_goes_to_the_next_in_line(web: WebClient, new_id: NewId) -> None:
    talk, booking = sold_out(web, new_id, capacity=1)
    ann, bob = new_id("ann"), new_id("bob")
    first = join(web, talk, ann, offer_for_seconds=0.000001).body  # lapsed once made
    second = join(web, talk, bob).body
    web.post(f"/reservations/{booking['id']}/cancel", user=booking["user_id"])
    offer_id = entry(web, first["id"], ann)["reservation_id"]
    lapsed = web.post(f"/reservations/{offer_id}/confirm", user=ann)
    assert (lapsed.status, lapsed.body["code"]) == (410, "HOLD_EXPIRED")
    assert entry(web, first["id"], ann)["status"] == "EXPIRED"
    assert entry(web, second["id"], bob)["status"] == "OFFERED"


def test_a_join_with_free_seats_is_offered_at_once_for_an_hour(
    web: WebClient, new_id: NewId
) -> None:
    """The example's default offer (examples._common.DEFAULT_OFFER_SECONDS) is the library's."""
    talk, user = schedule(web, new_id, 3), new_id("user")
    joined = join(web, talk, user, quantity=2)
    assert (joined.status, joined.body["status"], joined.body["position"]) == (
        201,
        "OFFERED",
        None,
    )
    offer = web.get(f"/reservations/{joined.body['reservation_id']}", user=user).body
    assert (offer["status"], offer["quantity"], held_for(offer)) == (
        "HELD",
        2,
        timedelta(hours=1),
    )
    assert web.get(f"/schedules/{talk}").body["remaining"] == 1


def test_another_users_entry_is_not_found_and_untouched(web: WebClient, new_id: NewId) -> None:
    talk, _ = sold_out(web, new_id)
    owner = new_id("owner")
    joined = join(web, talk, owner).body
    for entry_id, answer in [
        (joined["id"], web.get(f"/waitlist/{joined['id']}", user="mallory")),
        (joined["id"], web.post(f"/waitlist/{joined['id']}/leave", user="mallory")),
        ("no-such-entry", web.get("/waitlist/no-such-entry", user=owner)),
        ("no-such-entry", web.post("/waitlist/no-such-entry/leave", user=owner)),
    ]:
        assert (answer.status, answer.body) == (
            404,
            {
                "code": "WAITLIST_ENTRY_NOT_FOUND",
                "message": "No such waiting-list entry.",
                "details": {"entry_id": entry_id},
            },
        )
    assert entry(web, joined["id"], owner) == joined


def test_the_waitlist_routes_need_the_user_header(web: WebClient, new_id: NewId) -> None:
    talk, _ = sold_out(web, new_id)
    joined = join(web, talk, new_id("user")).body
    for answer in (
        join(web, talk, None),
        web.get(f"/waitlist/{joined['id']}"),
        web.post(f"/waitlist/{joined['id']}/leave"),
    ):
        assert (answer.status, answer.body["details"]) == (
            401,
            {"field": "X-User-Id", "reason": "is required"},
        )
    assert web.get(f"/schedules/{talk}").body["waitlisted"] == 1


def test_a_second_join_is_409_and_adds_nothing(web: WebClient, new_id: NewId) -> None:
    talk, booking = sold_out(web, new_id)
    user = new_id("user")
    first = join(web, talk, user).body
    for body in ({}, {"quantity": 2}):
        again = join(web, talk, user, **body)
        assert (again.status, again.body) == (
            409,
            {
                "code": "DUPLICATE_WAITLIST_ENTRY",
                "message": "The user is already on this schedule's waiting list.",
                "details": {"entry_id": first["id"]},
            },
        )
    assert web.get(f"/schedules/{talk}").body["waitlisted"] == 1
    booked = join(web, talk, booking["user_id"])
    assert (booked.status, booked.body["code"], booked.body["details"]) == (
        409,
        "DUPLICATE_RESERVATION",
        {"reservation_id": booking["id"]},
    )
    assert web.get(f"/schedules/{talk}").body["waitlisted"] == 1


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"quantity": 0}, {"field": "quantity", "reason": "must be at least 1", "value": 0}),
        ({"quantity": 1.5}, {"field": "quantity", "reason": "must be an integer", "value": 1.5}),
        ({"quantity": "2"}, {"field": "quantity", "reason": "must be an integer", "value": "2"}),
        ({"quantity": True}, {"field": "quantity", "reason": "must be an integer", "value": True}),
        (
            {"offer_for_seconds": 0},
            {"field": "offer_for_seconds", "reason": "must be positive", "value": 0},
        ),
        (
            # A timedelta counts microseconds: this would round to zero, refused by the
            # service as its own offer_for; it is refused as sent instead.
            {"offer_for_seconds": 0.0000001},
            {
                "field": "offer_for_seconds",
                "reason": "must be at least 0.000001 seconds",
                "value": 0.0000001,
            },
        ),
        (
            {"offer_for_seconds": 31_536_001},
            {
                "field": "offer_for_seconds",
                "reason": "must be at most 31536000 seconds",
                "value": 31_536_001,
            },
        ),
        (
            {"offer_for_seconds": "3600"},
            {"field": "offer_for_seconds", "reason": "must be a number", "value": "3600"},
        ),
        (
            {"offer_for_seconds": None},
            {"field": "offer_for_seconds", "reason": "must be a number", "value": "null"},
        ),
        (
            {"offer_for_seconds": [60]},
            {"field": "offer_for_seconds", "reason": "must be a number", "value": "array"},
        ),
    ],
)
def test_a_bad_body_is_422_naming_the_field_and_writes_nothing(
    web: WebClient, new_id: NewId, body: dict[str, Any], details: dict[str, Any]
) -> None:
    # Seats are free: a join taken by mistake would be offered them at once.
    talk, user = schedule(web, new_id), new_id("user")
    before = web.get(f"/schedules/{talk}").body
    answer = join(web, talk, user, **body)
    assert (answer.status, answer.body) == (
        422,
        {
            "code": "VALIDATION_ERROR",
            "message": f"{details['field']}: {details['reason']}",
            "details": details,
        },
    )
    assert web.get(f"/schedules/{talk}").body == before
    assert web.get("/reservations", user=user).body == {"items": [], "next_cursor": None}


def test_a_body_that_is_not_an_object_or_an_unknown_schedule_is_refused(
    web: WebClient, new_id: NewId
) -> None:
    talk, user = schedule(web, new_id), new_id("user")
    not_json = web.post(f"/schedules/{talk}/waitlist", raw=b"[1]", user=user)
    assert (not_json.status, not_json.body["details"]) == (
        422,
        {"field": "body", "reason": "must be a JSON object"},
    )
    missing = new_id("sched")
    unknown = join(web, missing, user)
    assert (unknown.status, unknown.body["code"], unknown.body["details"]) == (
        404,
        "SCHEDULE_NOT_FOUND",
        {"schedule_id": missing},
    )
    assert web.get(f"/schedules/{talk}").body["waitlisted"] == 0
    assert web.get("/reservations", user=user).body == {"items": [], "next_cursor": None}
