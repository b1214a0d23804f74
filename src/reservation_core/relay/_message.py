"""The message a relay publishes for an event: one JSON format, version 1, for every broker.

The JSON Schema of the format ships beside this module (``message.schema.json``) and is
shown in the documentation; :func:`message_schema` returns it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from reservation_core import BusinessException, ErrorCode, ReservationEvent, ReservationStatus

#: The ``version`` of the message format. A change a consumer could trip on (a field
#: removed or retyped) comes with a new version; new fields may be added within one.
MESSAGE_VERSION = 1
#: The ``source`` of messages unless told otherwise: it prefixes every message id.
DEFAULT_SOURCE = "reservation-core"
#: What a topic template may name.
PLACEHOLDERS = ("type", "schedule_id", "status")
#: Characters that separate or match tokens in a NATS subject or an AMQP routing key
#: (``.``, ``*``, ``>``, ``#``), whitespace, controls, and ``%`` itself (the escape).
_NOT_IN_A_TOKEN = re.compile(r"[.*>#%\s\x00-\x1f\x7f]")


def message_id(event: ReservationEvent, source: str = DEFAULT_SOURCE) -> str:
    """The stable id of an event's message: ``"{source}:{event.id}"``.

    Every send of the event carries it (``Nats-Msg-Id``, AMQP ``message_id``, the Redis
    entry's ``id`` field), so a consumer recognises a re-send by it.
    """
    return f"{source}:{event.id}"


def message(event: ReservationEvent, *, source: str = DEFAULT_SOURCE) -> dict[str, Any]:
    """The message of ``event``, as the JSON object a relay publishes.

    Examples:
        >>> from datetime import datetime, timezone
        >>> from reservation_core import ReservationEvent, ReservationStatus
        >>> event = ReservationEvent(
        ...     id=7, type="reservation.confirmed", reservation_id="r-1", schedule_id="yoga",
        ...     user_id="ann", quantity=1, status=ReservationStatus.CONFIRMED,
        ...     occurred_at=datetime(2026, 11, 24, 15, 12, tzinfo=timezone.utc))
        >>> message(event)["id"], message(event)["version"]
        ('reservation-core:7', 1)
    """
    return {
        "version": MESSAGE_VERSION,
        "id": message_id(event, source),
        "source": source,
        "event_id": event.id,
        "type": event.type,
        "reservation_id": event.reservation_id,
        "schedule_id": event.schedule_id,
        "user_id": event.user_id,
        "quantity": event.quantity,
        "status": str(event.status),
        "occurred_at": event.occurred_at.isoformat(),
    }


def message_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the messages a relay publishes."""
    text = resources.files(__package__).joinpath("message.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _token(value: str) -> str:
    """``value`` fit for one token of a subject or routing key: unsafe bytes as ``%XX``."""
    return _NOT_IN_A_TOKEN.sub(
        lambda m: "".join(f"%{byte:02X}" for byte in m[0].encode("utf-8")), value
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    """One event ready to send: its message id, topic and JSON body."""

    event: ReservationEvent
    id: str
    topic: str
    body: bytes


def outgoing(event: ReservationEvent, template: str, source: str) -> Outgoing:
    """``event`` as its broker will get it, its topic made from ``template``."""
    values = {"type": event.type, "schedule_id": _token(event.schedule_id)}
    topic = template.format_map({**values, "status": str(event.status).lower()})
    body = json.dumps(message(event, source=source), ensure_ascii=False, separators=(",", ":"))
    return Outgoing(event, message_id(event, source), topic, body.encode("utf-8"))


_SAMPLE = ReservationEvent(
    id=1,
    type="reservation.confirmed",
    reservation_id="r",
    schedule_id="s",
    user_id="u",
    quantity=1,
    status=ReservationStatus.CONFIRMED,
    occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
)


def check_template(field: str, template: object) -> str:
    """``template`` if it is a topic template naming only :data:`PLACEHOLDERS`."""
    if not isinstance(template, str) or not template.strip():
        raise invalid(field, "must be a non-empty string", template)
    try:
        outgoing(_SAMPLE, template, DEFAULT_SOURCE)
    except (KeyError, IndexError, ValueError) as error:
        allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise invalid(field, f"may name only {allowed} ({error!r})", template) from None
    return template


def invalid(field: str, reason: str, value: object) -> BusinessException:
    """``VALIDATION_ERROR`` naming ``field``, as the service raises it."""
    return BusinessException(
        ErrorCode.VALIDATION_ERROR,
        f"{field}: {reason}",
        details={"field": field, "reason": reason, "value": _shown(value)},
    )


def _shown(value: object) -> object:
    """``value`` as ``details["value"]`` echoes it: a number as is, anything else cut short."""
    if value is None or isinstance(value, int | float):
        return value
    return repr(value)[:80]
