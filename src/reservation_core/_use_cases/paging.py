"""Keyset pagination for ``list_reservations``: the opaque cursor (private).

A cursor is the ``(created_at, id)`` of the last reservation of a page, as URL-safe base64
of a small JSON array. Opaque to callers: only its round trip is promised.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from reservation_core.domain import Reservation
from reservation_core.domain._validation import invalid
from reservation_core.errors import BusinessException

MAX_PAGE_SIZE = 1000
"""The largest ``limit`` of one page."""

_MAX_CURSOR_LENGTH = 200
_MAX_RESERVATION_ID_LENGTH = 36


def encode_cursor(last: Reservation) -> str:
    """The cursor of the page that ends with ``last``."""
    position = [last.created_at.astimezone(UTC).isoformat(), last.id]
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: object) -> tuple[datetime, str] | None:
    """The ``(created_at, id)`` a cursor stands for; ``VALIDATION_ERROR`` naming ``after``."""
    if cursor is None:
        return None
    if type(cursor) is not str or not cursor or len(cursor) > _MAX_CURSOR_LENGTH:
        raise _bad_cursor(cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, reservation_id = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor(cursor) from None
    if (
        moment.utcoffset() is None
        or type(reservation_id) is not str
        or not 0 < len(reservation_id) <= _MAX_RESERVATION_ID_LENGTH
    ):
        raise _bad_cursor(cursor)
    return moment.astimezone(UTC), reservation_id


def _bad_cursor(cursor: object) -> BusinessException:
    shown = cursor if isinstance(cursor, str) else type(cursor).__name__
    return invalid("after", "is not a cursor from list_reservations", shown)
