"""Argument checks of everything the service takes: the contract's limits (private)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from reservation_core.domain._values import OrderLine, ReservationStatus
from reservation_core.errors import BusinessException, ErrorCode

MAX_ID_LENGTH = 64
"""The longest identifier (``schedule_id``, ``user_id``, ``idempotency_key``), in characters."""
MAX_COUNT = 2**31 - 1  # the largest value a 32-bit INTEGER column stores on every backend
"""The largest ``capacity`` or ``quantity``: what a 32-bit ``INTEGER`` column stores."""

# C0 and C1 control characters, DEL, and lone surrogates (not encodable as UTF-8).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


_SHOWN_LENGTH = 80
#: Integers beyond this magnitude are named, not echoed: every JSON parser reads an int64,
#: and ``str()`` of a huge int raises (Python limits it to 4300 digits).
_SHOWN_INT = 2**63
#: The JSON name of each Python type that ``json.loads`` produces and ``shown_value`` names.
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (int, "number"),
    (float, "number"),
    (list, "array"),
    (tuple, "array"),
    (dict, "object"),
)


def shown_value(value: object) -> int | float | str | None:
    r"""``value`` as it may be echoed in ``details["value"]``: always JSON- and UTF-8-safe.

    What a JSON client may send is echoed as sent, when it is small: ``null``, booleans,
    integers within ``±2**63``, finite floats, strings cut to 80 characters with their control
    characters and lone surrogates escaped as text (``\ud800``). Other values are named by
    their type in JSON terms (``"number"`` for a huge or non-finite number, ``"array"``,
    ``"object"``), or by their Python class name where JSON has no such type; a
    ``timedelta`` is shown as its number of seconds.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and -_SHOWN_INT <= value <= _SHOWN_INT:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str):
        cut = value[:_SHOWN_LENGTH]
        escaped = _FORBIDDEN.sub(lambda match: f"\\u{ord(match.group()):04x}", cut)
        return escaped + "..." if len(value) > _SHOWN_LENGTH else escaped
    if isinstance(value, timedelta):
        return _seconds(value)
    return next(
        (name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__
    )


def _seconds(duration: timedelta) -> int | float:
    """A duration in seconds, as an ``int`` when it is a whole number of them."""
    seconds = duration.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


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


def check_count(field: str, value: object, *, minimum: int, maximum: int = MAX_COUNT) -> int:
    """``value`` if it is an ``int`` (not ``bool``) in ``minimum..maximum``."""
    if type(value) is not int:
        raise _invalid(field, "must be an integer", value)
    if value < minimum:
        raise _invalid(field, f"must be at least {minimum}", value)
    if value > maximum:
        raise _invalid(field, f"must be at most {maximum}", value)
    return value


#: The longest ``idempotency_ttl``: ``now - ttl`` must stay a time every backend stores.
MAX_IDEMPOTENCY_TTL = timedelta(days=36_500)
#: The largest ``retry_backoff``, in seconds (a sleep doubles up to 64 times it).
MAX_RETRY_BACKOFF = 60.0
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def check_service_options(
    *,
    uow_factory: object,
    clock: object,
    max_attempts: object,
    retry_backoff: object,
    idempotency_ttl: object,
    max_concurrent_per_schedule: object,
) -> None:
    """``TypeError`` or ``ValueError`` naming the first bad option of ``ReservationService``.

    Wiring mistakes, refused when the service is built rather than at the first retry
    (``time.sleep(nan)``) or the first idempotency check (``now - timedelta.max``).
    """
    if not callable(uow_factory):
        raise TypeError("uow_factory must be a zero-argument callable")
    if not callable(clock):
        raise TypeError("clock must be a zero-argument callable returning a datetime")
    if type(max_attempts) is not int or max_attempts < 1:
        raise ValueError(f"max_attempts must be a positive int, not {max_attempts!r}")
    if not isinstance(retry_backoff, int | float) or isinstance(retry_backoff, bool):
        raise TypeError(f"retry_backoff must be a number of seconds, not {retry_backoff!r}")
    if not (math.isfinite(retry_backoff) and 0 <= retry_backoff <= MAX_RETRY_BACKOFF):
        raise ValueError(
            f"retry_backoff must be between 0 and {MAX_RETRY_BACKOFF} seconds, "
            f"not {retry_backoff!r}"
        )
    if not isinstance(idempotency_ttl, timedelta):
        raise TypeError(f"idempotency_ttl must be a timedelta, not {idempotency_ttl!r}")
    if not timedelta(0) < idempotency_ttl <= MAX_IDEMPOTENCY_TTL:
        raise ValueError(
            f"idempotency_ttl must be positive and at most {MAX_IDEMPOTENCY_TTL.days} days, "
            f"not {idempotency_ttl!r}"
        )
    if max_concurrent_per_schedule is not None and (
        type(max_concurrent_per_schedule) is not int or max_concurrent_per_schedule < 1
    ):
        raise ValueError("max_concurrent_per_schedule must be a positive int or None")


def utc_clock_reading(now: object) -> datetime:
    """``now`` in UTC if it is an aware ``datetime`` from 1970 to 8999.

    Else ``VALIDATION_ERROR`` naming the field ``clock``: the clock is an argument of the
    service, and a use case raises nothing but ``BusinessException``.
    """
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise _bad_clock("must return a timezone-aware datetime", now)
    try:
        utc = now.astimezone(UTC)
    except OverflowError:  # datetime.min or .max with an offset
        raise _bad_clock("must return a time from 1970 to 8999", now) from None
    if not _EARLIEST <= utc < _LATEST:
        raise _bad_clock("must return a time from 1970 to 8999", now)
    return utc


def _bad_clock(reason: str, reading: object) -> BusinessException:
    shown = reading.isoformat() if isinstance(reading, datetime) else type(reading).__name__
    return BusinessException(
        ErrorCode.VALIDATION_ERROR,
        f"clock: {reason}",
        details={"field": "clock", "reason": reason, "value": shown},
    )


#: The most events one claim or acknowledgement may name.
MAX_EVENT_BATCH = 10_000


def check_batch(field: str, value: object) -> int:
    """A batch size: an ``int`` (not ``bool``) in ``1..MAX_EVENT_BATCH``."""
    if type(value) is not int:
        raise _invalid(field, "must be an integer", value)
    if not 1 <= value <= MAX_EVENT_BATCH:
        raise _invalid(field, f"must be between 1 and {MAX_EVENT_BATCH}", value)
    return value


def check_event_ids(field: str, value: object) -> list[int]:
    """Event ids: an iterable of positive ``int`` (not ``bool``), at most a batch of them."""
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise _invalid(field, "must be an iterable of event ids", value)
    ids = list(value)
    if len(ids) > MAX_EVENT_BATCH:
        raise _invalid(field, f"must name at most {MAX_EVENT_BATCH} events", len(ids))
    for event_id in ids:
        if type(event_id) is not int or not 1 <= event_id <= 2**63 - 1:
            raise _invalid(field, "must hold positive integer event ids", event_id)
    return ids


def check_duration(field: str, value: object, *, maximum: timedelta) -> timedelta:
    """``value`` if it is a ``timedelta`` above zero and at most ``maximum``."""
    if not isinstance(value, timedelta):
        raise _invalid(field, "must be a datetime.timedelta", value)
    if value <= timedelta(0):
        raise _invalid(field, "must be positive", value)
    if value > maximum:
        raise _invalid(field, f"must be at most {_seconds(maximum)} seconds", value)
    return value


def check_instant_after(field: str, now: datetime, duration: timedelta) -> datetime:
    """``now + duration``, or ``VALIDATION_ERROR`` naming ``field`` if it cannot be stored."""
    try:
        return now + duration
    except OverflowError:
        raise _invalid(field, "ends after the latest instant a datetime holds", duration) from None


def invalid(field: str, reason: str, value: Any) -> BusinessException:
    """``VALIDATION_ERROR`` naming ``field``, for checks made elsewhere."""
    return _invalid(field, reason, value)


#: At most this many lines in one order, and pools on one schedule.
MAX_ORDER_LINES = 50
MAX_POOLS = 8


def check_lines(lines: object) -> list[tuple[str, int]]:
    """An order's lines as ``(schedule_id, quantity)``; else ``VALIDATION_ERROR`` (``lines``).

    1 to 50 ``OrderLine`` s, each on its own schedule.
    """
    if not isinstance(lines, (list, tuple)):
        raise _invalid("lines", "must be a list of OrderLine", type(lines).__name__)
    if not 1 <= len(lines) <= MAX_ORDER_LINES:
        raise _invalid("lines", f"must hold 1 to {MAX_ORDER_LINES} lines", len(lines))
    checked: list[tuple[str, int]] = []
    for index, line in enumerate(lines):
        if not isinstance(line, OrderLine):
            raise _invalid("lines", f"line {index} must be an OrderLine", type(line).__name__)
        try:
            schedule_id = check_id("schedule_id", line.schedule_id)
            quantity = check_count("quantity", line.quantity, minimum=1)
        except BusinessException as exc:
            raise _invalid(
                "lines", f"line {index}: {exc.details['reason']}", exc.details["value"]
            ) from None
        checked.append((schedule_id, quantity))
    seen: set[str] = set()
    for index, (schedule_id, _) in enumerate(checked):
        if schedule_id in seen:
            raise _invalid("lines", f"line {index} repeats a schedule: one line each", schedule_id)
        seen.add(schedule_id)
    return checked


def check_pools(schedule_id: str, pools: object) -> tuple[str, ...]:
    """A schedule's pools, sorted: 0 to 8 distinct ids other than its own."""
    if isinstance(pools, (str, bytes)) or not isinstance(pools, (list, tuple, set, frozenset)):
        raise _invalid("pools", "must be a list of schedule ids", type(pools).__name__)
    if len(pools) > MAX_POOLS:
        raise _invalid("pools", f"must hold at most {MAX_POOLS} schedule ids", len(pools))
    checked: list[str] = []
    for pool in pools:
        try:
            checked.append(check_id("pools", pool))
        except BusinessException as exc:
            raise _invalid("pools", str(exc.details["reason"]), pool) from None
    repeated = [pool for n, pool in enumerate(checked) if pool in checked[:n]]
    if repeated:
        raise _invalid("pools", "must not repeat a schedule id", repeated[0])
    if schedule_id in checked:
        raise _invalid("pools", "a schedule cannot be its own pool", schedule_id)
    return tuple(sorted(checked))


def check_status(status: object) -> ReservationStatus | None:
    """``status`` as a :class:`ReservationStatus` (its name works too), or ``None``."""
    if status is None:
        return None
    if isinstance(status, str):
        try:
            return ReservationStatus(status)
        except ValueError:
            pass
    shown = status if isinstance(status, str) else type(status).__name__
    raise invalid("status", "must be a ReservationStatus", shown)
