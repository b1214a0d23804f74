"""Argument checks shared by the service's use cases (private)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from reservation_core.errors import BusinessException, ErrorCode

MAX_ID_LENGTH = 64
"""The longest identifier (``schedule_id``, ``user_id``, ``idempotency_key``), in characters."""
MAX_COUNT = 2**31 - 1  # the largest value a 32-bit INTEGER column stores on every backend
"""The largest ``capacity`` or ``quantity``: what a 32-bit ``INTEGER`` column stores."""

# C0 and C1 control characters, DEL, and lone surrogates (not encodable as UTF-8).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _invalid(field: str, reason: str, value: Any) -> BusinessException:
    shown = value if isinstance(value, int | str | None) else type(value).__name__
    if isinstance(shown, str) and len(shown) > 80:
        shown = shown[:80] + "..."
    return BusinessException(
        ErrorCode.VALIDATION_ERROR,
        f"{field}: {reason}",
        details={"field": field, "reason": reason, "value": shown},
    )


def check_id(field: str, value: object) -> str:
    """``value`` if it is a valid identifier, else ``VALIDATION_ERROR`` naming ``field``."""
    if type(value) is not str:
        raise _invalid(field, "must be a string", value)
    if not value:
        raise _invalid(field, "must not be empty", value)
    if len(value) > MAX_ID_LENGTH:
        raise _invalid(field, f"must be at most {MAX_ID_LENGTH} characters", value)
    if _FORBIDDEN.search(value):
        raise _invalid(field, "must not contain control characters or lone surrogates", value)
    return value


def check_optional_id(field: str, value: object) -> str | None:
    """Like :func:`check_id`, but ``None`` passes."""
    return None if value is None else check_id(field, value)


def check_count(field: str, value: object, *, minimum: int, maximum: int = MAX_COUNT) -> int:
    """``value`` if it is an ``int`` (not ``bool``) in ``minimum..maximum``."""
    if type(value) is not int:
        raise _invalid(field, "must be an integer", value)
    if value < minimum:
        raise _invalid(field, f"must be at least {minimum}", value)
    if value > maximum:
        raise _invalid(field, f"must be at most {maximum}", value)
    return value


def check_duration(field: str, value: object, *, maximum: timedelta) -> timedelta:
    """``value`` if it is a ``timedelta`` above zero and at most ``maximum``."""
    if not isinstance(value, timedelta):
        raise _invalid(field, "must be a datetime.timedelta", value)
    if value <= timedelta(0):
        raise _invalid(field, "must be positive", str(value))
    if value > maximum:
        raise _invalid(field, f"must be at most {maximum}", str(value))
    return value


def check_instant_after(field: str, now: datetime, duration: timedelta) -> datetime:
    """``now + duration``, or ``VALIDATION_ERROR`` naming ``field`` if it cannot be stored."""
    try:
        return now + duration
    except OverflowError:
        raise _invalid(
            field, "ends after the latest instant a datetime holds", str(duration)
        ) from None


def invalid(field: str, reason: str, value: Any) -> BusinessException:
    """``VALIDATION_ERROR`` naming ``field``, for checks made elsewhere."""
    return _invalid(field, reason, value)
