"""The example apps answer every BusinessException with its status and exact JSON body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.web.conftest import Answer, WebClient

NewId = Callable[[str], str]


def schedule(web: WebClient, new_id: NewId, capacity: int = 2) -> str:
    schedule_id = new_id("sched")
    answer = web.post("/schedules", {"schedule_id": schedule_id, "capacity": capacity})
    assert answer.status == 201, answer
    return schedule_id


def reserve(web: WebClient, schedule_id: str, new_id: NewId, quantity: int = 1) -> dict[str, Any]:
    answer = web.post(
        f"/schedules/{schedule_id}/reservations", {"quantity": quantity}, user=new_id("user")
    )
    assert answer.status == 201, answer
    body: dict[str, Any] = answer.body
    return body


def reservation_routes(web: WebClient, reservation_id: str, user: str | None) -> list[Answer]:
    """Get, cancel and refund ``reservation_id`` as ``user``."""
    path = f"/reservations/{reservation_id}"
    return [
        web.get(path, user=user),
        web.post(f"{path}/cancel", user=user),
        web.post(f"{path}/refund", user=user),
    ]


def test_create_schedule_is_201(web: WebClient, new_id: NewId) -> None:
    schedule_id = new_id("sched")
    answer = web.post("/schedules", {"schedule_id": schedule_id, "capacity": 3})
    assert (answer.status, answer.media_type) == (201, "application/json")
    assert answer.body == {
        "id": schedule_id,
        "capacity": 3,
        "reserved": 0,
        "pools": [],
        "waitlisted": 0,
        "remaining": 3,
    }
    assert web.get(f"/schedules/{schedule_id}").body == answer.body


def test_create_reservation_is_201_and_readable(web: WebClient, new_id: NewId) -> None:
    schedule_id, user_id = schedule(web, new_id), new_id("user")
    answer = web.post(f"/schedules/{schedule_id}/reservations", {"quantity": 2}, user=user_id)
    assert (answer.status, answer.media_type) == (201, "application/json")
    created = answer.body
    assert set(created) == {
        "id",
        "schedule_id",
        "user_id",
        "quantity",
        "status",
        "created_at",
        "updated_at",
        "expires_at",
        "order_id",
    }
    assert created["expires_at"] is None  # a booking, not a hold
    assert created["order_id"] is None  # booked alone, not a line of an order
    assert (created["schedule_id"], created["user_id"]) == (schedule_id, user_id)
    assert (created["quantity"], created["status"]) == (2, "CONFIRMED")
    assert web.get(f"/reservations/{created['id']}", user=user_id).body == created
    assert web.get(f"/schedules/{schedule_id}").body["remaining"] == 0


def test_idempotency_key_header_replays(web: WebClient, new_id: NewId) -> None:
    schedule_id, key = schedule(web, new_id), new_id("key")
    path, user = f"/schedules/{schedule_id}/reservations", new_id("user")
    first = web.post(path, user=user, **{"Idempotency-Key": key})
    again = web.post(path, user=user, **{"Idempotency-Key": key})
    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body
    reused = web.post(path, {"quantity": 2}, user=user, **{"Idempotency-Key": key})
    assert (reused.status, reused.body) == (
        422,
        {
            "code": "IDEMPOTENCY_KEY_REUSED",
            "message": "The idempotency key was used for a different request.",
            "details": {"idempotency_key": key},
        },
    )


def test_capacity_exceeded_is_400(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id, capacity=2)
    answer = web.post(
        f"/schedules/{schedule_id}/reservations", {"quantity": 3}, user=new_id("user")
    )
    assert (answer.status, answer.media_type) == (400, "application/json")
    assert answer.body == {
        "code": "CAPACITY_EXCEEDED",
        "message": "Not enough seats remain on this schedule.",
        "details": {"requested": 3, "remaining": 2},
    }


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (
            "cancel",
            {
                "code": "RESERVATION_ALREADY_CANCELLED",
                "message": "The reservation is already cancelled.",
                "details": {"status": "CANCELLED", "action": "cancel"},
            },
        ),
        (
            "refund",
            {
                "code": "ALREADY_REFUNDED",
                "message": "The reservation is already refunded.",
                "details": {"status": "REFUNDED", "action": "refund"},
            },
        ),
    ],
)
def test_second_cancel_or_refund_is_400(
    web: WebClient, new_id: NewId, action: str, error: dict[str, Any]
) -> None:
    reservation = reserve(web, schedule(web, new_id), new_id)
    path, owner = f"/reservations/{reservation['id']}/{action}", reservation["user_id"]
    first = web.post(path, user=owner)
    assert (first.status, first.body["status"]) == (200, error["details"]["status"])
    assert web.get(f"/schedules/{reservation['schedule_id']}").body["reserved"] == 0
    again = web.post(path, user=owner)
    assert (again.status, again.media_type, again.body) == (400, "application/json", error)


def test_unknown_ids_are_404(web: WebClient, new_id: NewId) -> None:
    schedule_id, reservation_id = new_id("sched"), new_id("res")
    for answer in (
        web.get(f"/schedules/{schedule_id}"),
        web.post(f"/schedules/{schedule_id}/reservations", user="u"),
    ):
        assert (answer.status, answer.body) == (
            404,
            {
                "code": "SCHEDULE_NOT_FOUND",
                "message": "No such schedule.",
                "details": {"schedule_id": schedule_id},
            },
        )
    for answer in reservation_routes(web, reservation_id, "u"):
        assert (answer.status, answer.body) == (
            404,
            {
                "code": "RESERVATION_NOT_FOUND",
                "message": "No such reservation.",
                "details": {"reservation_id": reservation_id},
            },
        )


def test_conflicts_are_409(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id)
    taken = web.post("/schedules", {"schedule_id": schedule_id, "capacity": 5})
    assert (taken.status, taken.body) == (
        409,
        {
            "code": "SCHEDULE_ALREADY_EXISTS",
            "message": "A schedule with this id already exists.",
            "details": {"schedule_id": schedule_id},
        },
    )

    user_id = new_id("user")
    first = web.post(f"/schedules/{schedule_id}/reservations", user=user_id)
    duplicate = web.post(f"/schedules/{schedule_id}/reservations", user=user_id)
    assert (duplicate.status, duplicate.body) == (
        409,
        {
            "code": "DUPLICATE_RESERVATION",
            "message": "The user already holds a reservation on this schedule.",
            "details": {"reservation_id": first.body["id"]},
        },
    )

    assert web.post(f"/reservations/{first.body['id']}/cancel", user=user_id).status == 200
    refund = web.post(f"/reservations/{first.body['id']}/refund", user=user_id)
    assert (refund.status, refund.body) == (
        409,
        {
            "code": "INVALID_STATE_TRANSITION",
            "message": "The reservation cannot move to that state.",
            "details": {"status": "CANCELLED", "action": "refund"},
        },
    )


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            {"schedule_id": "s", "capacity": True},
            {"field": "capacity", "reason": "must be an integer", "value": True},
        ),
        (
            {"schedule_id": "", "capacity": 1},
            {"field": "schedule_id", "reason": "must not be empty", "value": ""},
        ),
        (
            {"schedule_id": "s", "capacity": -1},
            {"field": "capacity", "reason": "must be at least 0", "value": -1},
        ),
        ({"schedule_id": "s"}, {"field": "capacity", "reason": "is required"}),
        (["not", "an", "object"], {"field": "body", "reason": "must be a JSON object"}),
    ],
)
def test_bad_arguments_are_422(web: WebClient, body: Any, details: dict[str, Any]) -> None:
    answer = web.post("/schedules", body)
    assert (answer.status, answer.media_type) == (422, "application/json")
    assert answer.body == {
        "code": "VALIDATION_ERROR",
        "message": f"{details['field']}: {details['reason']}",
        "details": details,
    }


def test_malformed_json_and_bad_quantity_are_422(web: WebClient, new_id: NewId) -> None:
    malformed = web.post("/schedules", raw=b"{not json")
    assert (malformed.status, malformed.body["details"]) == (
        422,
        {"field": "body", "reason": "must be a JSON object"},
    )
    schedule_id = schedule(web, new_id)
    zero = web.post(f"/schedules/{schedule_id}/reservations", {"quantity": 0}, user="u")
    assert (zero.status, zero.body["details"]) == (
        422,
        {"field": "quantity", "reason": "must be at least 1", "value": 0},
    )
    too_long = web.get(f"/reservations/{'r' * 65}", user="u")
    assert (too_long.status, too_long.body["details"]["field"]) == (422, "reservation_id")


def test_problem_json_when_the_client_asks(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id, capacity=1)
    path = f"/schedules/{schedule_id}/reservations"
    answer = web.post(path, {"quantity": 2}, user=new_id("user"), Accept="application/problem+json")
    assert (answer.status, answer.media_type) == (400, "application/problem+json")
    assert answer.body == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "Not enough seats remain on this schedule.",
        "instance": path,
        "code": "CAPACITY_EXCEEDED",
        "details": {"requested": 2, "remaining": 1},
    }
    missing = web.get(f"/schedules/{new_id('sched')}", Accept="application/problem+json")
    assert (missing.status, missing.media_type) == (404, "application/problem+json")
    assert (missing.body["title"], missing.body["code"]) == ("Not Found", "SCHEDULE_NOT_FOUND")


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        ("application/problem+json;q=0.5, application/json", "application/json"),
        ("application/json;q=0.9, application/problem+json", "application/problem+json"),
        ("application/problem+json; q=0", "application/json"),
    ],
)
def test_accept_negotiation(web: WebClient, new_id: NewId, accept: str, media_type: str) -> None:
    answer = web.get(f"/schedules/{new_id('sched')}", Accept=accept)
    assert (answer.status, answer.media_type) == (404, media_type)
    assert answer.body["code"] == "SCHEDULE_NOT_FOUND"


def test_reservations_of_another_user_are_404_and_untouched(web: WebClient, new_id: NewId) -> None:
    """Holding a reservation's id is not enough: another user cannot read, cancel or refund it."""
    reservation = reserve(web, schedule(web, new_id), new_id)
    reservation_id, owner = reservation["id"], reservation["user_id"]
    not_found = {
        "code": "RESERVATION_NOT_FOUND",
        "message": "No such reservation.",
        "details": {"reservation_id": reservation_id},
    }
    for answer in reservation_routes(web, reservation_id, "mallory"):
        assert (answer.status, answer.body) == (404, not_found)
    assert web.get(f"/reservations/{reservation_id}", user=owner).body == reservation
    assert web.get(f"/schedules/{reservation['schedule_id']}").body["reserved"] == 1
    refunded = web.post(f"/reservations/{reservation_id}/refund", user=owner)
    assert (refunded.status, refunded.body["status"]) == (200, "REFUNDED")


def test_reservation_routes_need_the_user_header(web: WebClient, new_id: NewId) -> None:
    schedule_id = schedule(web, new_id)
    reservation_id = reserve(web, schedule_id, new_id)["id"]
    anonymous = web.post(f"/schedules/{schedule_id}/reservations")
    for answer in [anonymous, *reservation_routes(web, reservation_id, None)]:
        assert (answer.status, answer.body["code"]) == (401, "VALIDATION_ERROR")
        assert answer.body["details"] == {"field": "X-User-Id", "reason": "is required"}
    assert web.get(f"/schedules/{schedule_id}").body["reserved"] == 1


def test_a_lone_surrogate_in_an_id_is_422_not_500(web: WebClient) -> None:
    """Valid JSON may hold a lone surrogate: the error echoing it must still encode."""
    for accept in ("application/json", "application/problem+json"):
        answer = web.post(
            "/schedules", raw=b'{"schedule_id": "a\\ud800", "capacity": 1}', Accept=accept
        )
        assert answer.status == 422
        assert answer.body["details"] == {
            "field": "schedule_id",
            "reason": "must not contain control characters or lone surrogates",
            "value": "a\\ud800",
        }
