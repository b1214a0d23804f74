"""What the three example apps share: service wiring, JSON shapes and the error response.

The web layer is thin on purpose: it parses JSON, calls :class:`ReservationService` and
answers. The service validates every argument, so a bad value in a request comes back as
the same ``VALIDATION_ERROR`` (422) whatever the framework.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, create_engine

from reservation_core import (
    BusinessException,
    ErrorCode,
    Reservation,
    ReservationPage,
    ReservationService,
    Schedule,
)
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata

DATABASE_URL_VARIABLE = "RESERVATION_CORE_EXAMPLE_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///reservations.sqlite3"
PROBLEM_JSON = "application/problem+json"


def engine_from_environment() -> Engine:
    """The engine named by ``RESERVATION_CORE_EXAMPLE_DATABASE_URL``, else a SQLite file."""
    return create_engine(os.environ.get(DATABASE_URL_VARIABLE, DEFAULT_DATABASE_URL))


def build_service(engine: Engine) -> ReservationService:
    """Create the ``rc_`` tables if missing and a service on ``engine``.

    A real host runs the Alembic branch instead of ``create_all`` (see docs/migrations.md).
    """
    metadata.create_all(engine)
    return ReservationService(lambda: SqlAlchemyUnitOfWork(engine))


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    return {**dataclasses.asdict(schedule), "remaining": schedule.remaining}


def reservation_json(reservation: Reservation) -> dict[str, Any]:
    return {
        **dataclasses.asdict(reservation),
        "status": str(reservation.status),
        "created_at": reservation.created_at.isoformat(),
        "updated_at": reservation.updated_at.isoformat(),
        "expires_at": None
        if reservation.expires_at is None
        else reservation.expires_at.isoformat(),
    }


def page_json(page: ReservationPage) -> dict[str, Any]:
    return {
        "items": [reservation_json(r) for r in page.items],
        "next_cursor": page.next_cursor,
    }


def hold_for(body: dict[str, Any]) -> Any:
    """``hold_for_seconds`` as a ``timedelta`` (default 600); other values go to the service.

    The service refuses what is not a positive, bounded ``timedelta`` with a
    ``VALIDATION_ERROR`` naming ``hold_for``, so a bad value is passed on as it is.
    """
    seconds = body.get("hold_for_seconds", 600)
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        try:
            return timedelta(seconds=seconds)
        except OverflowError:
            return seconds
    return seconds


def list_arguments(query: Mapping[str, str]) -> dict[str, Any]:
    """``list_reservations`` keyword arguments from a query string; the service checks them."""
    arguments: dict[str, Any] = {
        name: query[name] for name in ("schedule_id", "user_id", "status", "after") if name in query
    }
    if "limit" in query:
        raw = query["limit"]
        arguments["limit"] = int(raw) if raw.isascii() and raw.isdigit() else raw
    return arguments


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, else ``VALIDATION_ERROR`` on the field ``body``."""
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise BusinessException(
            ErrorCode.VALIDATION_ERROR,
            "body: must be a JSON object",
            details={"field": "body", "reason": "must be a JSON object"},
        )
    return body


def required(body: dict[str, Any], field: str) -> Any:
    """``body[field]``, else ``VALIDATION_ERROR`` naming the field."""
    if field not in body:
        raise BusinessException(
            ErrorCode.VALIDATION_ERROR,
            f"{field}: is required",
            details={"field": field, "reason": "is required"},
        )
    return body[field]


# --8<-- [start:negotiation]
def wants_problem_json(accept: str | None) -> bool:
    """True when ``Accept`` ranks ``application/problem+json`` at least as high as JSON.

    ``*/*``, a missing header or a plain ``application/json`` keep the ``{code, message,
    details}`` body; a client must name ``application/problem+json`` to get RFC 9457.
    """
    quality: dict[str, float] = {}
    for media_range in (accept or "").split(","):
        media_type, *parameters = (part.strip() for part in media_range.split(";"))
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media_type = media_type.lower()
        quality[media_type] = max(quality.get(media_type, 0.0), q)
    problem = quality.get(PROBLEM_JSON, 0.0)
    return problem > 0 and problem >= quality.get("application/json", 0.0)


@dataclasses.dataclass(frozen=True)
class ErrorResponse:
    """How to answer a :class:`BusinessException`: status, JSON body and media type."""

    status: int
    body: dict[str, Any]
    media_type: str


def error_response(error: BusinessException, accept: str | None, path: str) -> ErrorResponse:
    """The response for ``error``: problem details if the client asks, else ``to_dict()``."""
    if wants_problem_json(accept):
        return ErrorResponse(error.http_status, error.to_problem(instance=path), PROBLEM_JSON)
    return ErrorResponse(error.http_status, error.to_dict(), "application/json")


# --8<-- [end:negotiation]
