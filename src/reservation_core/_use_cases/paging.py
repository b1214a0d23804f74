"""Keyset pagination for ``list_reservations`` and ``list_schedules``: the cursors (private).

A cursor is the position of the last item of a page, as URL-safe base64 of a small JSON
array: ``[created_at, id]`` of a reservation, ``[id]`` of a schedule (so neither passes
for the other). Opaque to callers: only its round trip is promised.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from reservation_core.domain import Reservation, Schedule
from reservation_core.domain._validation import check_id, invalid
from reservation_core.errors import BusinessException

MAX_PAGE_SIZE = 1000
"""The largest ``limit`` of one page."""

_MAX_CURSOR_LENGTH = 200
#: A schedule id's 64 characters take up to 256 bytes of UTF-8, 344 in base64.
_MAX_SCHEDULE_CURSOR_LENGTH = 400
_MAX_RESERVATION_ID_LENGTH = 36


def _encode(position: list[str]) -> str:
    text = json.dumps(position, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _decode(cursor: object, longest: int, source: str) -> list[object]:
    """The JSON array a cursor holds; ``VALIDATION_ERROR`` naming ``after`` if it is none."""
    if type(cursor) is not str or not cursor or len(cursor) > longest:
        raise _bad_cursor(cursor, source)
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor(cursor, source) from None
    if type(position) is not list:
        raise _bad_cursor(cursor, source)
    return position


def encode_cursor(last: Reservation) -> str:
    """The cursor of the page that ends with ``last``."""
    return _encode([last.created_at.astimezone(UTC).isoformat(), last.id])


def decode_cursor(cursor: object) -> tuple[datetime, str] | None:
    """The ``(created_at, id)`` a cursor stands for; ``VALIDATION_ERROR`` naming ``after``."""
    if cursor is None:
        return None
    source = "list_reservations"
    position = _decode(cursor, _MAX_CURSOR_LENGTH, source)
    try:
        created_at, reservation_id = position
        moment = datetime.fromisoformat(created_at)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise _bad_cursor(cursor, source) from None
    if (
        moment.utcoffset() is None
        or type(reservation_id) is not str
        or not 0 < len(reservation_id) <= _MAX_RESERVATION_ID_LENGTH
    ):
        raise _bad_cursor(cursor, source)
    return moment.astimezone(UTC), reservation_id


def encode_schedule_cursor(last: Schedule) -> str:
    """The cursor of the page of schedules that ends with ``last``."""
    return _encode([last.id])


def decode_schedule_cursor(cursor: object) -> str | None:
    """The schedule id a cursor stands for; ``VALIDATION_ERROR`` naming ``after``."""
    if cursor is None:
        return None
    source = "list_schedules"
    position = _decode(cursor, _MAX_SCHEDULE_CURSOR_LENGTH, source)
    if len(position) != 1:
        raise _bad_cursor(cursor, source)
    try:
        return check_id("after", position[0])
    except BusinessException:
        raise _bad_cursor(cursor, source) from None


def _bad_cursor(cursor: object, source: str) -> BusinessException:
    shown = cursor if isinstance(cursor, str) else type(cursor).__name__
    return invalid("after", f"is not a cursor from {source}", shown)
