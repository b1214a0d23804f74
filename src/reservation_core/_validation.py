"""Argument checks shared by the service's use cases (private)."""

from __future__ import annotations

import re

from reservation_core.errors import BusinessException, ErrorCode

MAX_ID_LENGTH = 64
MAX_COUNT = 2**31 - 1  # the largest value a 32-bit INTEGER column stores on every backend

# C0 and C1 control characters, DEL, and lone surrogates (not encodable as UTF-8).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


_SHOWN_LENGTH = 80
#: Integers beyond this magnitude are echoed as a description: every JSON parser reads an
#: int64, and ``str()`` of a huge int raises (Python limits it to 4300 digits).
_SHOWN_INT = 2**63


def shown_value(value: object) -> int | str | None:
    r"""``value`` as it may be echoed in ``details["value"]``: always JSON- and UTF-8-safe.

    Strings are cut to 80 characters and their control characters and lone surrogates
    escaped as text (``\ud800``); huge integers and other types are described, not echoed.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if -_SHOWN_INT <= value <= _SHOWN_INT:
            return value
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, str):
        cut = value[:_SHOWN_LENGTH]
        escaped = _FORBIDDEN.sub(lambda match: f"\\u{ord(match.group()):04x}", cut)
        return escaped + "..." if len(value) > _SHOWN_LENGTH else escaped
    return type(value).__name__


def _invalid(field: str, reason: str, value: object) -> BusinessException:
    return BusinessException(
        ErrorCode.VALIDATION_ERROR,
        f"{field}: {reason}",
        details={"field": field, "reason": reason, "value": shown_value(value)},
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


def check_count(field: str, value: object, *, minimum: int) -> int:
    """``value`` if it is an ``int`` (not ``bool``) in ``minimum..2**31-1``."""
    if type(value) is not int:
        raise _invalid(field, "must be an integer", value)
    if value < minimum:
        raise _invalid(field, f"must be at least {minimum}", value)
    if value > MAX_COUNT:
        raise _invalid(field, f"must be at most {MAX_COUNT}", value)
    return value
