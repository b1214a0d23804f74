"""The OpenAPI description of the FastAPI example: bodies, headers, every status, links.

The endpoints parse their requests by hand (so a bad value is the library's
``VALIDATION_ERROR``, never FastAPI's own 422 body), so FastAPI cannot infer the API:
this module states it. Each route takes :func:`operation` (its ``responses`` and
``openapi_extra``), and :func:`install` adds the shared schemas. Limits and enumerations
come from the code (``ErrorCode``, ``ReservationStatus``, ``WaitlistStatus``,
``examples._common``), and tests/web runs schemathesis against the running app to hold
the description to its answers.
"""

from __future__ import annotations

import http
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from examples._common import (
    DEFAULT_HOLD_SECONDS,
    DEFAULT_OFFER_SECONDS,
    IDEMPOTENCY_HEADER,
    MAX_BODY_BYTES,
    MAX_COUNT,
    MAX_HOLD_SECONDS,
    MAX_ID_LENGTH,
    MAX_ORDER_LINES,
    MAX_PAGE_SIZE,
    MAX_POOLS,
    MIN_HOLD_SECONDS,
    USER_HEADER,
)
from reservation_core import ErrorCode, ReservationStatus, WaitlistStatus
from reservation_core.contrib.http import JSON, PROBLEM_JSON


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _record(**properties: dict[str, Any]) -> dict[str, Any]:
    """An answer's object: exactly these properties, every one of them present."""
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


_COUNT = {"type": "integer", "maximum": MAX_COUNT}
_QUANTITY = {**_COUNT, "minimum": 1, "default": 1}
_TIME = {"type": "string", "format": "date-time"}
_UUID = {"type": "string", "format": "uuid"}
_HOLD_SECONDS = {"type": "number", "minimum": MIN_HOLD_SECONDS, "maximum": MAX_HOLD_SECONDS}
_POOLS = {"type": "array", "items": _ref("Id"), "maxItems": MAX_POOLS, "uniqueItems": True}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Id": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_LENGTH,
        # No control characters (C0, DEL, C1); any other Unicode.
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
    },
    "NewSchedule": {
        "type": "object",
        "required": ["schedule_id", "capacity"],
        "properties": {
            "schedule_id": _ref("Id"),
            "capacity": {**_COUNT, "minimum": 0},
            "pools": {
                **_POOLS,
                "default": [],
                "description": "Schedules whose seats this one's bookings also take: each "
                "must exist and have no pools of its own, and not be this schedule.",
            },
        },
    },
    "NewReservation": {"type": "object", "properties": {"quantity": _QUANTITY}},
    "NewHold": {
        "type": "object",
        "properties": {
            "quantity": _QUANTITY,
            "hold_for_seconds": {**_HOLD_SECONDS, "default": DEFAULT_HOLD_SECONDS},
        },
    },
    "NewWaitlistEntry": {
        "type": "object",
        "properties": {
            "quantity": {**_QUANTITY, "description": "Seats wanted, all or none."},
            "offer_for_seconds": {
                **_HOLD_SECONDS,
                "default": DEFAULT_OFFER_SECONDS,
                "description": "How long an offer's hold lasts once it is made.",
            },
        },
    },
    "NewOrderLine": {
        "type": "object",
        "required": ["schedule_id"],
        "properties": {"schedule_id": _ref("Id"), "quantity": _QUANTITY},
    },
    "NewOrder": {
        "type": "object",
        "required": ["lines"],
        "properties": {
            "lines": {
                "type": "array",
                "items": _ref("NewOrderLine"),
                "minItems": 1,
                "maxItems": MAX_ORDER_LINES,
                "description": "Booked all or none, each on a schedule of its own.",
            },
            "hold_for_seconds": {
                **_HOLD_SECONDS,
                "description": "Hold every line until one expires_at; absent: booked.",
            },
        },
    },
    "Schedule": _record(
        id=_ref("Id"),
        capacity={**_COUNT, "minimum": 0},
        reserved={**_COUNT, "minimum": 0},
        pools=_POOLS,
        waitlisted={
            **_COUNT,
            "minimum": 0,
            "description": "entries on its waiting list (waiting or holding an offer)",
        },
        remaining={**_COUNT, "minimum": 0},
    ),
    "Reservation": _record(
        id=_UUID,
        schedule_id=_ref("Id"),
        user_id=_ref("Id"),
        quantity={**_COUNT, "minimum": 1},
        status={"type": "string", "enum": [str(status) for status in ReservationStatus]},
        created_at=_TIME,
        updated_at=_TIME,
        expires_at={"anyOf": [_TIME, {"type": "null"}], "description": "holds only"},
        order_id={"anyOf": [_UUID, {"type": "null"}], "description": "lines of an order only"},
    ),
    "Order": _record(
        order_id=_UUID,
        lines={"type": "array", "items": _ref("Reservation"), "minItems": 1},
    ),
    "WaitlistEntry": _record(
        id=_UUID,
        schedule_id=_ref("Id"),
        user_id=_ref("Id"),
        quantity={**_COUNT, "minimum": 1},
        status={"type": "string", "enum": [str(status) for status in WaitlistStatus]},
        position={
            "anyOf": [{**_COUNT, "minimum": 1}, {"type": "null"}],
            "description": "1-based place among the WAITING entries; WAITING only",
        },
        reservation_id={
            "anyOf": [_UUID, {"type": "null"}],
            "description": "the HELD reservation of the offer, once one was made",
        },
        created_at=_TIME,
        updated_at=_TIME,
    ),
    "ReservationPage": _record(
        items={"type": "array", "items": _ref("Reservation")},
        next_cursor={"anyOf": [{"type": "string"}, {"type": "null"}]},
    ),
    "Released": _record(expired={"type": "integer", "minimum": 0}),
    "Error": _record(
        code={"type": "string", "enum": [str(code) for code in ErrorCode]},
        message={"type": "string"},
        details={"type": "object"},
    ),
    "Problem": {
        "description": "RFC 9457 problem details, when Accept asks for application/problem+json",
        "type": "object",
        "required": ["type", "title", "status", "detail", "code", "details"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "code": {"type": "string", "enum": [str(code) for code in ErrorCode]},
            "details": {"type": "object"},
        },
    },
}

# What each refusal means on this API: the description of its status.
_WHEN = {
    400: "CAPACITY_EXCEEDED, RESERVATION_ALREADY_CANCELLED or ALREADY_REFUNDED",
    401: f"VALIDATION_ERROR: no {USER_HEADER} header (the authenticated user)",
    404: "SCHEDULE_NOT_FOUND, RESERVATION_NOT_FOUND, ORDER_NOT_FOUND or "
    "WAITLIST_ENTRY_NOT_FOUND (or another user's reservation, order or entry)",
    409: "SCHEDULE_ALREADY_EXISTS, DUPLICATE_RESERVATION, DUPLICATE_WAITLIST_ENTRY, "
    "INVALID_STATE_TRANSITION or CONCURRENCY_CONFLICT",
    410: "HOLD_EXPIRED: the hold lapsed and its seats were released",
    413: f"VALIDATION_ERROR: the body is over {MAX_BODY_BYTES} bytes",
    422: "VALIDATION_ERROR naming the field, or IDEMPOTENCY_KEY_REUSED",
    503: "STORAGE_UNAVAILABLE: the database cannot be reached; nothing was written",
}


def _json(schema: str) -> dict[str, Any]:
    return {JSON: {"schema": _ref(schema)}}


def _refusal(status: int) -> dict[str, Any]:
    return {
        "description": f"{http.HTTPStatus(status).phrase}: {_WHEN[status]}",
        "content": {**_json("Error"), PROBLEM_JSON: {"schema": _ref("Problem")}},
    }


def _header(name: str, description: str, *, required: bool) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": f"{description} Non-ASCII text is sent as UTF-8 bytes.",
        "schema": _ref("Id"),
    }


USER = _header(
    USER_HEADER, "The user the request acts for (the host's authentication).", required=True
)
IDEMPOTENCY_KEY = _header(
    IDEMPOTENCY_HEADER, "Replays the first answer to a repeat of the request.", required=False
)


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


#: The query of ``GET /reservations``: the user's reservations, narrowed and paged.
LIST_QUERY = (
    _query("schedule_id", _ref("Id"), "Only the reservations on this schedule."),
    _query(
        "status",
        {"type": "string", "enum": [str(status) for status in ReservationStatus]},
        "Only the reservations in this status.",
    ),
    _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 50},
        "The most reservations on the page.",
    ),
    _query(
        "after",
        {"type": "string"},
        "The next_cursor of the page before (opaque: any other value is a 422).",
    ),
)
_SAME_USER = {f"header.{USER_HEADER}": f"$request.header.{USER_HEADER}"}


def link(operation_id: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to ``operation_id``, its parameters taken from this exchange."""
    return {"operationId": operation_id, "parameters": parameters}


def _as_owner(parameter: str, pointer: str, *operation_ids: str) -> dict[str, Any]:
    """Links from an answer to operations on what it made, as the same user: the path
    ``parameter`` is the answer's value at the JSON ``pointer``."""
    value = f"$response.body#{pointer}"
    return {
        operation_id: link(operation_id, **{parameter: value}, **_SAME_USER)
        for operation_id in operation_ids
    }


def operation(
    operation_id: str,
    status: int,
    schema: str,
    refusals: tuple[int, ...],
    *,
    body: str | None = None,
    body_required: bool = False,
    parameters: tuple[dict[str, Any], ...] = (),
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of a route: its id, answers, body, parameters and links."""
    answer: dict[str, Any] = {"content": _json(schema)}
    if links:
        answer["links"] = links
    extra: dict[str, Any] = {}
    if body is not None:
        extra["requestBody"] = {"required": body_required, "content": _json(body)}
        refusals = (*refusals, 413)
    if parameters:
        extra["parameters"] = list(parameters)
    return {
        "operation_id": operation_id,
        "status_code": status,
        "response_model": None,
        "responses": {status: answer, **{code: _refusal(code) for code in sorted(refusals)}},
        "openapi_extra": extra,
    }


#: What every route acting for a user on a reservation may answer besides its success.
ON_RESERVATIONS = (401, 404, 409, 422, 503)


def booking(operation_id: str, body: str, *follow_ups: str) -> dict[str, Any]:
    """A route that books as ``X-User-Id`` (an ``Idempotency-Key`` replays it), and where
    the answered reservation leads: ``follow_ups``, operations on it as the same user."""
    return operation(
        operation_id,
        201,
        "Reservation",
        (400, *ON_RESERVATIONS),
        body=body,
        parameters=(USER, IDEMPOTENCY_KEY),
        links=_as_owner("reservation_id", "/id", *follow_ups),
    )


def checkout() -> dict[str, Any]:
    """``POST /orders``: an order booked as ``X-User-Id`` (an ``Idempotency-Key`` replays
    it), leading to reading, confirming and cancelling it as the same user."""
    return operation(
        "create_order",
        201,
        "Order",
        (400, *ON_RESERVATIONS),
        body="NewOrder",
        body_required=True,
        parameters=(USER, IDEMPOTENCY_KEY),
        links=_as_owner("order_id", "/order_id", "get_order", "confirm_order", "cancel_order"),
    )


def waitlist_join() -> dict[str, Any]:
    """``POST /schedules/{schedule_id}/waitlist``: an entry on the list as ``X-User-Id``,
    leading to reading it (its place in line) and leaving the list as the same user."""
    return operation(
        "join_waitlist",
        201,
        "WaitlistEntry",
        ON_RESERVATIONS,
        body="NewWaitlistEntry",
        parameters=(USER,),
        links=_as_owner("entry_id", "/id", "get_waitlist_entry", "leave_waitlist"),
    )


#: The path parameters that are the library's identifiers.
_ID_PARAMETERS = {"schedule_id", "reservation_id", "order_id", "entry_id"}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` add the shared schemas and type the id path parameters."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
            for path in schema["paths"].values():
                for described in path.values():
                    for parameter in described.get("parameters", []):
                        if parameter["in"] == "path" and parameter["name"] in _ID_PARAMETERS:
                            parameter["schema"] = _ref("Id")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
