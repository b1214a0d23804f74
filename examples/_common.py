"""What the three example apps share: service wiring, JSON shapes and the request's fields.

The web layer is thin on purpose: it parses JSON, calls :class:`ReservationService` and
answers. The service validates every argument, so a bad value in a request comes back as
the same ``VALIDATION_ERROR`` (422) whatever the framework, naming the field as the client
sent it (the ``X-User-Id`` header, not the service's ``user_id``). The framework's own
refusals (no such route, a method the route does not take, a body over
:data:`MAX_BODY_BYTES`) answer the same ``{code, message, details}`` body.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text

from reservation_core import (
    BusinessException,
    ErrorCode,
    OrderLine,
    Reservation,
    ReservationPage,
    ReservationService,
    Schedule,
    WaitlistEntry,
)
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from reservation_core.contrib.http import ErrorResponse, error_response, wants_problem_json

#: The header that names the authenticated user (see :func:`authenticated_user`).
USER_HEADER = "X-User-Id"
#: The header whose value is passed on as ``idempotency_key``.
IDEMPOTENCY_HEADER = "Idempotency-Key"
DATABASE_URL_VARIABLE = "RESERVATION_CORE_EXAMPLE_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///reservations.sqlite3"

#: The largest request body read, in bytes. Every body of this API fits in a few hundred:
#: a larger one is refused (413) before it is read, so it costs the server no memory.
MAX_BODY_BYTES = 16 * 1024
#: The library's limits, stated here for the OpenAPI description, ``hold_for_seconds`` and
#: ``offer_for_seconds`` (tests/web holds them to the library's): an id's length, a count,
#: a hold or an offer (at most 365 days, at least the microsecond a ``timedelta`` counts
#: in), a page, the lines of an order and the pools of a schedule.
MAX_ID_LENGTH = 64
MAX_COUNT = 2**31 - 1
MAX_HOLD_SECONDS = 365 * 24 * 3600
MIN_HOLD_SECONDS = 0.000001
MAX_PAGE_SIZE = 1000
MAX_ORDER_LINES = 50
MAX_POOLS = 8
#: The library's defaults: a hold lasts 10 minutes, a waiting list's offer an hour.
DEFAULT_HOLD_SECONDS = 600
DEFAULT_OFFER_SECONDS = 3600


def database_url_from_environment() -> str:
    """``RESERVATION_CORE_EXAMPLE_DATABASE_URL``, else a SQLite file."""
    return os.environ.get(DATABASE_URL_VARIABLE, DEFAULT_DATABASE_URL)


def engine_from_environment() -> Engine:
    """The engine named by ``RESERVATION_CORE_EXAMPLE_DATABASE_URL``, else a SQLite file."""
    return create_engine(database_url_from_environment())


# The lock that makes create_tables safe to run from many processes at once: taken,
# released (None: at the end of the transaction). SQLite has no named lock: its BEGIN
# IMMEDIATE takes the database's one write lock.
_LOCK_NAME = "reservation_core_example_schema"
_GET_LOCK = ("SELECT GET_LOCK(:name, 300)", "SELECT RELEASE_LOCK(:name)")
_SCHEMA_LOCKS = {
    "postgresql": ("SELECT pg_advisory_xact_lock(hashtext(:name))", None),
    "mysql": _GET_LOCK,
    "mariadb": _GET_LOCK,
    "sqlite": ("BEGIN IMMEDIATE", None),
}


@contextmanager
def _schema_lock(connection: Connection) -> Iterator[None]:
    lock, unlock = _SCHEMA_LOCKS[connection.dialect.name]
    taken = connection.execute(text(lock), {"name": _LOCK_NAME})
    if unlock is not None and taken.scalar() != 1:  # GET_LOCK's timeout
        raise TimeoutError("another process held the schema lock for 300 s")
    try:
        yield
    finally:
        if unlock is not None:
            connection.execute(text(unlock), {"name": _LOCK_NAME})


def create_tables(connection: Connection) -> None:
    """Create the missing ``rc_`` tables, one process at a time, on ``connection``.

    Workers started together on an empty database (``uvicorn --workers 4``, several Flask
    processes) each find no table, and each creating them fails all but one: so every
    process takes a database lock first, and the ones after the first find the tables
    made. The connection must be in a transaction (``engine.begin()``), which commits it.
    A real host runs the Alembic branch instead, once, before its workers start
    (``reservation-core migrate``, docs/migrations.md); the tables it made are then found
    here and left as they are.
    """
    with _schema_lock(connection):
        metadata.create_all(connection)


def build_service(engine: Engine) -> ReservationService:
    """Create the ``rc_`` tables if missing (:func:`create_tables`) and a service on ``engine``."""
    with engine.begin() as connection:
        create_tables(connection)
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


def order_json(lines: Sequence[Reservation]) -> dict[str, Any]:
    """An order: its id and its lines, in the order given at creation."""
    return {"order_id": lines[0].order_id, "lines": [reservation_json(r) for r in lines]}


def waitlist_entry_json(entry: WaitlistEntry) -> dict[str, Any]:
    """A waiting-list entry: its place in line (``position``) and its offer, once made."""
    return {
        **dataclasses.asdict(entry),
        "status": str(entry.status),
        "created_at": entry.created_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
    }


def page_json(page: ReservationPage) -> dict[str, Any]:
    return {
        "items": [reservation_json(r) for r in page.items],
        "next_cursor": page.next_cursor,
    }


def invalid(field: str, reason: str, value: Any, *, status: int | None = None) -> BusinessException:
    """``VALIDATION_ERROR`` naming the request's ``field``, echoing ``value`` (small JSON)."""
    return BusinessException(
        ErrorCode.VALIDATION_ERROR,
        f"{field}: {reason}",
        details={"field": field, "reason": reason, "value": value},
        http_status=status,
    )


#: A JSON value's type, in JSON's words, for one of the wrong type.
_JSON_TYPES = {str: "string", list: "array", dict: "object", bool: "boolean", type(None): "null"}


def _json_type(value: Any) -> str:
    """The JSON type of a parsed JSON ``value``, in JSON's words."""
    return _JSON_TYPES.get(type(value), "number")


#: The largest number echoed in an error: every JSON parser reads it exactly.
_SHOWN_NUMBER = 2**53


def _duration(body: dict[str, Any], field: str, default: float) -> timedelta:
    """``body[field]`` (else ``default``), a number of seconds, as a ``timedelta``.

    A number in ``MIN_HOLD_SECONDS <= s <= MAX_HOLD_SECONDS``, checked here, so an error
    names ``field`` and shows the value as sent (a short string, a number of seconds), or
    its JSON type; the service checks the ``timedelta`` again. A ``timedelta`` counts
    whole microseconds: a positive number below one would round to zero, which the service
    would refuse naming its own argument, so it is refused here, naming ``field``.
    """
    seconds = body.get(field, default)
    if type(seconds) not in (int, float):
        plain = isinstance(seconds, str) and seconds.isprintable()
        raise invalid(field, "must be a number", _cut(seconds) if plain else _json_type(seconds))
    if not MIN_HOLD_SECONDS <= seconds <= MAX_HOLD_SECONDS:  # NaN too
        shown = seconds if abs(seconds) <= _SHOWN_NUMBER else "number"
        if seconds <= 0:
            raise invalid(field, "must be positive", shown)
        if seconds < MIN_HOLD_SECONDS:
            raise invalid(field, f"must be at least {MIN_HOLD_SECONDS:f} seconds", shown)
        raise invalid(field, f"must be at most {MAX_HOLD_SECONDS} seconds", shown)
    return timedelta(seconds=seconds)


def hold_for(body: dict[str, Any]) -> timedelta:
    """``hold_for_seconds`` (default 600) as a ``timedelta`` (:func:`_duration`)."""
    return _duration(body, "hold_for_seconds", DEFAULT_HOLD_SECONDS)


def offer_for(body: dict[str, Any]) -> timedelta:
    """``offer_for_seconds`` (default 3600): how long a waiting list's offer is held."""
    return _duration(body, "offer_for_seconds", DEFAULT_OFFER_SECONDS)


def order_hold_for(body: dict[str, Any]) -> timedelta | None:
    """An order's ``hold_for_seconds`` (:func:`hold_for`), or ``None``: booked, not held."""
    return hold_for(body) if "hold_for_seconds" in body else None


def _json_array(body: dict[str, Any], field: str, default: Any) -> list[Any]:
    """``body[field]`` (else ``default``) if it is a JSON array, else ``VALIDATION_ERROR``."""
    value = body.get(field, default)
    if not isinstance(value, list):
        raise invalid(field, "must be an array", _json_type(value))
    return value


def pools(body: dict[str, Any]) -> list[Any]:
    """``pools`` (default none): an array, whose ids the service checks."""
    return _json_array(body, "pools", [])


def order_lines(body: dict[str, Any]) -> list[OrderLine]:
    """``lines``: an array of ``{"schedule_id", "quantity"?}`` objects, as ``OrderLine`` s.

    The array and its objects are checked here, so an error names them in JSON's words;
    the service checks the values, the number of lines and their schedules.
    """
    required(body, "lines")
    lines = []
    for index, line in enumerate(_json_array(body, "lines", [])):
        if not isinstance(line, dict):
            raise invalid("lines", f"line {index} must be an object", _json_type(line))
        schedule_id: Any = line.get("schedule_id")  # None when missing: the service says
        lines.append(OrderLine(schedule_id, line.get("quantity", 1)))
    return lines


#: The longest ``limit`` parsed as a number; a longer run of digits is refused as sent.
_LIMIT_DIGITS = 9


def list_arguments(query: Mapping[str, str]) -> dict[str, Any]:
    """``list_reservations`` keyword arguments from a query string; the service checks them."""
    arguments: dict[str, Any] = {
        name: query[name] for name in ("schedule_id", "status", "after") if name in query
    }
    if "limit" in query:
        raw = query["limit"]
        digits = raw.isascii() and raw.isdigit() and len(raw) <= _LIMIT_DIGITS
        arguments["limit"] = int(raw) if digits else raw
    return arguments


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _number(literal: str) -> int | float:
    # JSON has numbers, not ints and floats: 2.0 and 2e3 are integers, as JSON Schema's
    # "integer" reads them, so a count sent as 2.0 books 2 seats.
    value = float(literal)
    return int(value) if value.is_integer() else value


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, else ``VALIDATION_ERROR`` on the field ``body``.

    Strict JSON (RFC 8259): Python's ``NaN`` and ``Infinity`` are refused, and so is a
    body nested too deep to parse or larger than :data:`MAX_BODY_BYTES` (413). A number
    with no fraction is an integer (``2.0``, ``2e3``), whatever its spelling.
    """
    if len(raw) > MAX_BODY_BYTES:
        raise body_too_large()
    try:
        body = json.loads(raw or b"{}", parse_constant=_refuse_constant, parse_float=_number)
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise BusinessException(
            ErrorCode.VALIDATION_ERROR,
            "body: must be a JSON object",
            details={"field": "body", "reason": "must be a JSON object"},
        )
    return body


def body_too_large() -> BusinessException:
    """The 413 answer to a body over :data:`MAX_BODY_BYTES`."""
    reason = f"must be at most {MAX_BODY_BYTES} bytes"
    return BusinessException(
        ErrorCode.VALIDATION_ERROR,
        f"body: {reason}",
        details={"field": "body", "reason": reason},
        http_status=413,
    )


def _cut(text: str, length: int = 80) -> str:
    return text[:length] + "..." if len(text) > length else text


def http_error(status: int, method: str, path: str) -> BusinessException:
    """A refusal the framework makes before an endpoint runs, as the library's error.

    404 (no such route) names the field ``path``, 405 (the route takes other methods;
    answer it with an ``Allow`` header) ``method``, 413 ``body``; other statuses name
    the ``request`` with the status's phrase.
    """
    if status == 404:
        return invalid("path", "is not a route of this API", _cut(path), status=status)
    if status == 405:
        return invalid("method", "is not allowed on this route", _cut(method), status=status)
    if status == 413:
        return body_too_large()
    reason = HTTPStatus(status).phrase.lower()
    return BusinessException(
        ErrorCode.VALIDATION_ERROR,
        f"request: {reason}",
        details={"field": "request", "reason": reason},
        http_status=status,
    )


def required(body: dict[str, Any], field: str) -> Any:
    """``body[field]``, else ``VALIDATION_ERROR`` naming the field."""
    if field not in body:
        raise BusinessException(
            ErrorCode.VALIDATION_ERROR,
            f"{field}: is required",
            details={"field": field, "reason": "is required"},
        )
    return body[field]


def header_text(name: str, value: str | None) -> str | None:
    """A request header's value as text: its bytes read as UTF-8.

    HTTP carries a header as bytes, and WSGI and ASGI servers hand them over decoded as
    ISO-8859-1, a character per byte: ``été`` sent as UTF-8 arrives as ``Ã©tÃ©``. The rule
    here: a header's bytes are UTF-8 (what ``curl -H`` and most clients send for non-ASCII
    text), so the characters are turned back into those bytes and decoded as UTF-8. Bytes
    that are not UTF-8 are a ``VALIDATION_ERROR`` naming the header. A value holding a
    character beyond ISO-8859-1 never came as bytes (a test client's): it is kept.
    """
    if value is None:
        return None
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return value
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        shown = _cut(raw.decode("utf-8", "backslashreplace"))
        raise invalid(name, "must be UTF-8 text", shown) from None


def authenticated_user(header: str | None) -> str:
    """The user the request acts for, from the ``X-User-Id`` header; 401 without it.

    Every reservation route books, reads, cancels or refunds as this user only: the
    service's ``user_id=`` check answers ``RESERVATION_NOT_FOUND`` for anyone else's
    reservation, so holding an id is not enough to refund it. The header stands in for
    the host's authentication: in a real app it comes from a verified session or token
    (or from a proxy that authenticates and sets it), never straight from the client.
    Its value is UTF-8 (:func:`header_text`).
    """
    user = header_text(USER_HEADER, header)
    if not user:
        raise BusinessException(
            ErrorCode.VALIDATION_ERROR,
            f"{USER_HEADER}: is required (the authenticated user)",
            details={"field": USER_HEADER, "reason": "is required"},
            http_status=401,
        )
    return user


def idempotency_key(header: str | None) -> str | None:
    """The ``Idempotency-Key`` header as text (:func:`header_text`), or ``None``."""
    return header_text(IDEMPOTENCY_HEADER, header)


#: The request field each service argument comes from, where the two are named apart.
_SENT_AS = {"user_id": USER_HEADER, "idempotency_key": IDEMPOTENCY_HEADER}


def as_sent(error: BusinessException) -> BusinessException:
    """``error``, a ``VALIDATION_ERROR`` naming the request's field rather than the argument.

    The service names ``user_id``; the client sent the ``X-User-Id`` header.
    """
    field = error.details.get("field")
    if error.code is not ErrorCode.VALIDATION_ERROR or field not in _SENT_AS:
        return error
    sent = _SENT_AS[field]
    return BusinessException(
        error.code,
        f"{sent}: {error.details.get('reason')}",
        details={**error.details, "field": sent},
        http_status=error.http_status,
    )


__all__ = [
    "IDEMPOTENCY_HEADER",
    "MAX_BODY_BYTES",
    "USER_HEADER",
    "ErrorResponse",
    "as_sent",
    "authenticated_user",
    "body_too_large",
    "build_service",
    "create_tables",
    "database_url_from_environment",
    "engine_from_environment",
    "error_response",
    "http_error",
    "idempotency_key",
    "json_object",
    "offer_for",
    "order_hold_for",
    "order_json",
    "order_lines",
    "pools",
    "required",
    "reservation_json",
    "schedule_json",
    "waitlist_entry_json",
    "wants_problem_json",
]
