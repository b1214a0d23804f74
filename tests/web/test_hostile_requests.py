"""What a fuzzer sends: every app answers the library's JSON error, never a 500 or HTML."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from examples._common import MAX_BODY_BYTES
from tests.web.conftest import WebClient
from tests.web.test_error_mapping import schedule

NewId = Callable[[str], str]

NOT_AN_OBJECT = {
    "code": "VALIDATION_ERROR",
    "message": "body: must be a JSON object",
    "details": {"field": "body", "reason": "must be a JSON object"},
}


@pytest.mark.parametrize("depth", [1_000, 5_000])
def test_a_deeply_nested_body_is_422_not_500(web: WebClient, depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    for raw in (nested, b'{"schedule_id": "s", "capacity": ' + nested + b"}"):
        answer = web.post("/schedules", raw=raw)
        assert (answer.status, answer.media_type, answer.body) == (
            422,
            "application/json",
            NOT_AN_OBJECT,
        )


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json_numbers(
    web: WebClient, new_id: NewId, constant: bytes
) -> None:
    """Python's json reads them; RFC 8259 has no such numbers, and neither has this API."""
    schedule_id = schedule(web, new_id)
    path = f"/schedules/{schedule_id}/holds"
    answer = web.post(path, raw=b'{"hold_for_seconds": ' + constant + b"}", user="u")
    assert (answer.status, answer.body) == (422, NOT_AN_OBJECT)
    answer = web.post("/schedules", raw=b'{"schedule_id": "n", "capacity": ' + constant + b"}")
    assert (answer.status, answer.body) == (422, NOT_AN_OBJECT)
    assert web.get(f"/schedules/{schedule_id}").body["reserved"] == 0


def test_a_number_too_large_for_a_float_is_a_bounded_duration_error(
    web: WebClient, new_id: NewId
) -> None:
    """``1e400`` is valid JSON that Python reads as infinity."""
    schedule_id = schedule(web, new_id)
    answer = web.post(
        f"/schedules/{schedule_id}/holds", raw=b'{"hold_for_seconds": 1e400}', user="u"
    )
    assert (answer.status, answer.body["details"]) == (
        422,
        {
            "field": "hold_for_seconds",
            "reason": "must be at most 31536000 seconds",
            "value": "number",
        },
    )


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 1024 * 1024])
def test_a_body_over_the_limit_is_413(web: WebClient, new_id: NewId, size: int) -> None:
    """A route that needs 30 bytes refuses a megabyte, in the library's format."""
    schedule_id = new_id("sched")
    raw = json.dumps({"schedule_id": schedule_id, "capacity": 1, "pad": ""}).encode()
    padded = raw[:-2] + b"x" * (size - len(raw)) + raw[-2:]
    assert len(padded) == size
    answer = web.post("/schedules", raw=padded)
    assert (answer.status, answer.media_type, answer.body) == (
        413,
        "application/json",
        {
            "code": "VALIDATION_ERROR",
            "message": f"body: must be at most {MAX_BODY_BYTES} bytes",
            "details": {"field": "body", "reason": f"must be at most {MAX_BODY_BYTES} bytes"},
        },
    )
    assert web.get(f"/schedules/{schedule_id}").status == 404
    fits = raw[:-2] + b"x" * (MAX_BODY_BYTES - len(raw)) + raw[-2:]
    assert web.post("/schedules", raw=fits).status == 201


def test_an_unknown_route_is_404_in_json(web: WebClient) -> None:
    for answer in (web.get("/no/such/route"), web.post("/schedules/s/nothing")):
        assert (answer.status, answer.media_type) == (404, "application/json")
        assert answer.body["code"] == "VALIDATION_ERROR"
        assert answer.body["details"]["field"] == "path"
    answer = web.get("/nowhere", Accept="application/problem+json")
    assert (answer.status, answer.media_type) == (404, "application/problem+json")
    assert (answer.body["title"], answer.body["instance"]) == ("Not Found", "/nowhere")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/schedules", "POST"),
        ("DELETE", "/schedules", "POST"),
        ("PUT", "/schedules/s", "GET"),
        # Django answered its CSRF failure page here: a POST to a GET route.
        ("POST", "/schedules/s", "GET"),
        ("POST", "/reservations/r", "GET"),
        ("GET", "/reservations/r/cancel", "POST"),
    ],
)
def test_a_method_the_route_does_not_take_is_405_in_json(
    web: WebClient, method: str, path: str, allowed: str
) -> None:
    answer = web.request(method, path, **{"X-User-Id": "u"})
    assert (answer.status, answer.media_type) == (405, "application/json")
    assert answer.body == {
        "code": "VALIDATION_ERROR",
        "message": "method: is not allowed on this route",
        "details": {"field": "method", "reason": "is not allowed on this route", "value": method},
    }
    assert allowed in {part.strip() for part in answer.headers["Allow"].split(",")}


@pytest.mark.django_db
def test_a_failed_csrf_check_answers_json_in_django() -> None:
    """The API is exempt; the admin's login form is checked, and its refusal is JSON too."""
    from django.test import Client

    from examples.django_app import create_app

    create_app()
    answer = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "a"})
    assert (answer.status_code, answer.headers["Content-Type"]) == (403, "application/json")
    assert json.loads(answer.content)["details"] == {"field": "request", "reason": "forbidden"}


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            {"schedule_id": "s", "capacity": 2.5},
            {"field": "capacity", "reason": "must be an integer", "value": 2.5},
        ),
        (
            {"schedule_id": "s", "capacity": 10**20},
            {"field": "capacity", "reason": "must be at most 2147483647", "value": "number"},
        ),
        (
            {"schedule_id": "s", "capacity": 1e20},
            {"field": "capacity", "reason": "must be at most 2147483647", "value": "number"},
        ),
        (
            {"schedule_id": "s", "capacity": -0.5},
            {"field": "capacity", "reason": "must be an integer", "value": -0.5},
        ),
        (
            {"schedule_id": "s", "capacity": [1]},
            {"field": "capacity", "reason": "must be an integer", "value": "array"},
        ),
        (
            {"schedule_id": {"id": "s"}, "capacity": 1},
            {"field": "schedule_id", "reason": "must be a string", "value": "object"},
        ),
    ],
)
def test_validation_details_are_json_terms(
    web: WebClient, body: dict[str, Any], details: dict[str, Any]
) -> None:
    answer = web.post("/schedules", body)
    assert (answer.status, answer.body["details"]) == (422, details)


def test_a_bad_quantity_is_shown_as_sent(web: WebClient, new_id: NewId) -> None:
    path = f"/schedules/{schedule(web, new_id, capacity=5)}/reservations"
    for sent, reason, shown in [
        (1.5, "must be an integer", 1.5),
        (10**20, "must be at most 2147483647", "number"),
        (1e20, "must be at most 2147483647", "number"),
        ("1", "must be an integer", "1"),
    ]:
        answer = web.post(path, {"quantity": sent}, user="u")
        assert (answer.status, answer.body["details"]) == (
            422,
            {"field": "quantity", "reason": reason, "value": shown},
        )


def test_a_whole_number_is_an_integer_however_it_is_spelled(web: WebClient, new_id: NewId) -> None:
    """JSON has numbers: ``2.0`` is the integer 2, as JSON Schema's ``integer`` reads it."""
    schedule_id = new_id("sched")
    created = web.post(
        "/schedules", raw=f'{{"schedule_id": "{schedule_id}", "capacity": 3e0}}'.encode()
    )
    assert (created.status, created.body["capacity"]) == (201, 3)
    path = f"/schedules/{schedule_id}/reservations"
    booked = web.post(path, raw=b'{"quantity": 2.0}', user="u")
    assert (booked.status, booked.body["quantity"]) == (201, 2)


def test_a_bad_header_is_named_as_sent(web: WebClient, new_id: NewId) -> None:
    """The service checks ``user_id`` and ``idempotency_key``; the client sent headers."""
    path = f"/schedules/{schedule(web, new_id)}/reservations"
    too_long = "u" * 65
    for answer, field in [
        (web.post(path, user=too_long), "X-User-Id"),
        (web.post(path, user="u", **{"Idempotency-Key": too_long}), "Idempotency-Key"),
    ]:
        assert (answer.status, answer.body) == (
            422,
            {
                "code": "VALIDATION_ERROR",
                "message": f"{field}: must be at most 64 characters",
                "details": {
                    "field": field,
                    "reason": "must be at most 64 characters",
                    "value": too_long,
                },
            },
        )
