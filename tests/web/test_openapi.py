"""The FastAPI example's OpenAPI description says what the app does.

Every body a route reads is described, every status it answers is listed with the
library's ``{code, message, details}`` body, ``X-User-Id`` is required where the app
requires it, and links lead from a new schedule to its bookings and on to them.
(``test_schemathesis.py`` then holds the description to the app's answers.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from examples._common import DEFAULT_HOLD_SECONDS, DEFAULT_OFFER_SECONDS, MIN_HOLD_SECONDS
from examples._common import MAX_COUNT as EXAMPLE_MAX_COUNT
from examples._common import MAX_HOLD_SECONDS as EXAMPLE_MAX_HOLD_SECONDS
from examples._common import MAX_ID_LENGTH as EXAMPLE_MAX_ID_LENGTH
from examples._common import MAX_ORDER_LINES as EXAMPLE_MAX_ORDER_LINES
from examples._common import MAX_POOLS as EXAMPLE_MAX_POOLS
from examples.fastapi_app import create_app
from reservation_core import WaitlistEntry, WaitlistStatus
from reservation_core._use_cases import DEFAULT_HOLD, DEFAULT_OFFER, MAX_HOLD
from reservation_core.domain._validation import MAX_ORDER_LINES, MAX_POOLS
from reservation_core.testing import MAX_COUNT, MAX_ID_LENGTH

ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def description(sqlite_engine: Engine) -> Iterator[dict[str, Any]]:
    with TestClient(create_app(sqlite_engine.url.render_as_string())) as client:
        yield client.get("/openapi.json").json()


def operations(description: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for path in description["paths"].values()
        for operation in path.values()
    }


def test_every_body_a_route_reads_is_described(description: dict[str, Any]) -> None:
    bodies = {
        name: operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        for name, operation in operations(description).items()
        if "requestBody" in operation
    }
    assert bodies == {
        "create_schedule": "#/components/schemas/NewSchedule",
        "create_reservation": "#/components/schemas/NewReservation",
        "hold_reservation": "#/components/schemas/NewHold",
        "create_order": "#/components/schemas/NewOrder",
        "join_waitlist": "#/components/schemas/NewWaitlistEntry",
    }
    new_schedule = description["components"]["schemas"]["NewSchedule"]
    assert new_schedule["required"] == ["schedule_id", "capacity"]
    assert set(new_schedule["properties"]) == {"schedule_id", "capacity", "pools"}
    new_order = description["components"]["schemas"]["NewOrder"]
    assert new_order["required"] == ["lines"]
    assert set(new_order["properties"]) == {"lines", "hold_for_seconds"}
    new_entry = description["components"]["schemas"]["NewWaitlistEntry"]
    assert "required" not in new_entry
    assert set(new_entry["properties"]) == {"quantity", "offer_for_seconds"}


@pytest.mark.parametrize(
    ("operation_id", "statuses"),
    [
        ("create_schedule", {"201", "404", "409", "413", "422", "503"}),
        ("get_schedule", {"200", "404", "422", "503"}),
        ("create_reservation", {"201", "400", "401", "404", "409", "413", "422", "503"}),
        ("hold_reservation", {"201", "400", "401", "404", "409", "413", "422", "503"}),
        ("list_reservations", {"200", "401", "422", "503"}),
        ("get_reservation", {"200", "401", "404", "422", "503"}),
        ("cancel_reservation", {"200", "400", "401", "404", "409", "422", "503"}),
        ("confirm_reservation", {"200", "401", "404", "409", "410", "422", "503"}),
        ("refund_reservation", {"200", "400", "401", "404", "409", "422", "503"}),
        ("release_expired_holds", {"200", "409", "503"}),
        ("create_order", {"201", "400", "401", "404", "409", "413", "422", "503"}),
        ("get_order", {"200", "401", "404", "422", "503"}),
        ("confirm_order", {"200", "401", "404", "409", "410", "422", "503"}),
        ("cancel_order", {"200", "400", "401", "404", "409", "422", "503"}),
        ("join_waitlist", {"201", "401", "404", "409", "413", "422", "503"}),
        ("get_waitlist_entry", {"200", "401", "404", "422", "503"}),
        ("leave_waitlist", {"200", "401", "404", "409", "422", "503"}),
    ],
)
def test_every_status_is_listed_with_the_library_error_body(
    description: dict[str, Any], operation_id: str, statuses: set[str]
) -> None:
    responses = operations(description)[operation_id]["responses"]
    assert set(responses) == statuses
    for status, response in responses.items():
        if status.startswith("4") or status.startswith("5"):
            assert response["content"]["application/json"]["schema"] == ERROR
    assert "HTTPValidationError" not in description["components"]["schemas"]


def test_the_user_header_is_required_where_the_app_requires_it(
    description: dict[str, Any],
) -> None:
    required = {
        name
        for name, operation in operations(description).items()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "X-User-Id" and parameter["required"]
    }
    assert required == {
        "create_reservation",
        "hold_reservation",
        "list_reservations",
        "get_reservation",
        "cancel_reservation",
        "confirm_reservation",
        "refund_reservation",
        "create_order",
        "get_order",
        "confirm_order",
        "cancel_order",
        "join_waitlist",
        "get_waitlist_entry",
        "leave_waitlist",
    }


def test_links_lead_from_a_schedule_to_its_bookings_and_on(description: dict[str, Any]) -> None:
    found = operations(description)

    def links(operation_id: str) -> dict[str, Any]:
        success = next(r for s, r in found[operation_id]["responses"].items() if s < "300")
        return {name: link["parameters"] for name, link in success["links"].items()}

    assert set(links("create_schedule")) == {
        "get_schedule",
        "create_reservation",
        "hold_reservation",
        "join_waitlist",
    }
    same_user = {"header.X-User-Id": "$request.header.X-User-Id"}
    as_owner = {"reservation_id": "$response.body#/id", **same_user}
    assert links("create_reservation") == dict.fromkeys(
        ("get_reservation", "cancel_reservation", "refund_reservation"), as_owner
    )
    assert links("hold_reservation") == dict.fromkeys(
        ("get_reservation", "confirm_reservation", "cancel_reservation"), as_owner
    )
    order_as_owner = {"order_id": "$response.body#/order_id", **same_user}
    assert links("create_order") == dict.fromkeys(
        ("get_order", "confirm_order", "cancel_order"), order_as_owner
    )
    entry_as_owner = {"entry_id": "$response.body#/id", **same_user}
    assert links("join_waitlist") == dict.fromkeys(
        ("get_waitlist_entry", "leave_waitlist"), entry_as_owner
    )


def test_the_answers_are_described_with_every_field(description: dict[str, Any]) -> None:
    """A schedule's pools, a reservation's order_id, an order and an entry are in the answers."""
    schemas = description["components"]["schemas"]
    assert "pools" in schemas["Schedule"]["required"]
    assert "order_id" in schemas["Reservation"]["required"]
    assert schemas["Order"]["required"] == ["order_id", "lines"]
    assert schemas["WaitlistEntry"]["required"] == [
        field.name for field in dataclasses.fields(WaitlistEntry)
    ]
    assert schemas["WaitlistEntry"]["properties"]["status"]["enum"] == list(WaitlistStatus)


def test_the_described_limits_are_the_library_s() -> None:
    assert (EXAMPLE_MAX_COUNT, EXAMPLE_MAX_ID_LENGTH) == (MAX_COUNT, MAX_ID_LENGTH)
    assert (EXAMPLE_MAX_ORDER_LINES, EXAMPLE_MAX_POOLS) == (MAX_ORDER_LINES, MAX_POOLS)
    assert timedelta(seconds=EXAMPLE_MAX_HOLD_SECONDS) == MAX_HOLD
    assert timedelta(seconds=DEFAULT_HOLD_SECONDS) == DEFAULT_HOLD
    assert timedelta(seconds=DEFAULT_OFFER_SECONDS) == DEFAULT_OFFER
    # The shortest hold or offer is the shortest timedelta: anything shorter rounds to 0.
    assert timedelta(seconds=MIN_HOLD_SECONDS) == timedelta.resolution
