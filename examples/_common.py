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
from reservation_core.contrib.http import ErrorResponse, error_response, wants_problem_json

#: The header that names the authenticated user (see :func:`authenticated_user`).
USER_HEADER = "X-User-Id"
DATABASE_URL_VARIABLE = "RESERVATION_CORE_EXAMPLE_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///reservations.sqlite3"


def database_url_from_environment() -> str:
    """``RESERVATION_CORE_EXAMPLE_DATABASE_URL``, else a SQLite file."""
    return os.environ.get(DATABASE_URL_VARIABLE, DEFAULT_DATABASE_URL)


def engine_from_environment() -> Engine:
    """The engine named by ``RESERVATION_CORE_EXAMPLE_DATABASE_URL``, else a SQLite file."""
    return create_engine(database_url_from_environment())


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


def authenticated_user(header: str | None) -> str:
    """The user the request acts for, from the ``X-User-Id`` header; 401 without it.

    Every reservation route books, reads, cancels or refunds as this user only: the
    service's ``user_id=`` check answers ``RESERVATION_NOT_FOUND`` for anyone else's
    reservation, so holding an id is not enough to refund it. The header stands in for
    the host's authentication: in a real app it comes from a verified session or token
    (or from a proxy that authenticates and sets it), never straight from the client.
    """
    if not header:
        raise BusinessException(
            ErrorCode.VALIDATION_ERROR,
            f"{USER_HEADER}: is required (the authenticated user)",
            details={"field": USER_HEADER, "reason": "is required"},
            http_status=401,
        )
    return header


__all__ = [
    "USER_HEADER",
    "ErrorResponse",
    "authenticated_user",
    "build_service",
    "database_url_from_environment",
    "engine_from_environment",
    "error_response",
    "json_object",
    "required",
    "reservation_json",
    "schedule_json",
    "wants_problem_json",
]
