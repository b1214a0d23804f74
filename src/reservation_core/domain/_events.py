"""The event of a reservation's change: its shape, defined once (private; see the package).

Every path that writes an event (the in-memory store, the SQL statements and scripts of
each database, the Django app) takes its fields from :data:`EVENT_FIELDS` and its values
from :func:`event_fields`; the ``rc_events`` table has a column per field.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from reservation_core.domain._values import Reservation, ReservationStatus
from reservation_core.domain._waitlist import WaitlistEntry, WaitlistStatus, waitlist_event_type


@dataclasses.dataclass(frozen=True, slots=True)
class ReservationEvent:
    """A reservation's (or a waiting-list entry's) change, appended in the transaction that made it.

    Every change a reservation goes through (made ``CONFIRMED``, ``CANCELLED``,
    ``REFUNDED``, ...) has exactly one event, committed or rolled back with the change:
    no event without its change, no change without its event. So has every change of a
    waiting-list entry: ``waitlist.joined``, ``waitlist.offered``, ``waitlist.accepted``,
    ``waitlist.expired``, ``waitlist.left``; for those, ``reservation_id`` holds the
    entry's id (its offer's reservation is the entry's ``reservation_id``, see
    ``get_waitlist_entry``) and ``status`` the entry's new :class:`WaitlistStatus`.

    Attributes:
        id: increasing with the order the events were written (not always the order
            their transactions committed: a consumer may see a lower id after a higher).
        type: ``"reservation."`` and the new status in lower case, e.g.
            ``"reservation.refunded"``; a change that keeps the status has a type of its
            own: ``"reservation.hold_extended"`` (:data:`HOLD_EXTENDED`), a hold given a
            later ``expires_at``.
        reservation_id, schedule_id, user_id, quantity: the reservation's fields.
        status: the status the reservation moved to.
        occurred_at: when (timezone-aware UTC): the reservation's ``updated_at``.
    """

    id: int
    type: str
    reservation_id: str
    schedule_id: str
    user_id: str
    quantity: int
    status: ReservationStatus | WaitlistStatus
    occurred_at: datetime


#: The event type of a change of a reservation's quantity (``change_quantity``).
QUANTITY_CHANGED = "reservation.quantity_changed"


def event_type(status: ReservationStatus) -> str:
    """The event type of a move to ``status``: ``reservation.confirmed``, ..."""
    return f"reservation.{status.lower()}"


#: The event type of a hold given a later ``expires_at`` (its status stays ``HELD``).
HOLD_EXTENDED = "reservation.hold_extended"


#: The fields an event carries besides its ``id`` (which the store assigns), in order:
#: the columns of ``rc_events`` and the keys of :func:`event_fields`.
EVENT_FIELDS: tuple[str, ...] = tuple(
    field.name for field in dataclasses.fields(ReservationEvent) if field.name != "id"
)


def event_fields(reservation: Reservation, kind: str | None = None) -> dict[str, Any]:
    """The event of ``reservation`` as it now is: :data:`EVENT_FIELDS` and their values.

    ``status`` is the status's string; ``occurred_at`` the reservation's ``updated_at``;
    ``type`` is ``kind``, by default the one of a move to the reservation's status.
    """
    return {
        "type": event_type(reservation.status) if kind is None else kind,
        "reservation_id": reservation.id,
        "schedule_id": reservation.schedule_id,
        "user_id": reservation.user_id,
        "quantity": reservation.quantity,
        "status": str(reservation.status),
        "occurred_at": reservation.updated_at,
    }


def entry_event_fields(entry: WaitlistEntry) -> dict[str, Any]:
    """The event of a waiting-list entry as it now is: :data:`EVENT_FIELDS` and their values."""
    return {
        "type": waitlist_event_type(entry.status),
        "reservation_id": entry.id,
        "schedule_id": entry.schedule_id,
        "user_id": entry.user_id,
        "quantity": entry.quantity,
        "status": str(entry.status),
        "occurred_at": entry.updated_at,
    }


def event_status(event_type: str, status: str) -> ReservationStatus | WaitlistStatus:
    """The status an event of ``event_type`` names, as the enum it belongs to."""
    if event_type.startswith("waitlist."):
        return WaitlistStatus(status)
    return ReservationStatus(status)


def event_of(reservation: Reservation, event_id: int, kind: str | None = None) -> ReservationEvent:
    """The event of ``reservation`` as it now is, numbered ``event_id`` (for stores in Python)."""
    fields = event_fields(reservation, kind)
    fields["status"] = reservation.status
    return ReservationEvent(id=event_id, **fields)


def entry_event_of(entry: WaitlistEntry, event_id: int) -> ReservationEvent:
    """The event of ``entry`` as it now is, numbered ``event_id`` (for stores in Python)."""
    fields = entry_event_fields(entry)
    fields["status"] = entry.status
    return ReservationEvent(id=event_id, **fields)
