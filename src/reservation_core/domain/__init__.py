"""The domain: schedules, reservations and the reservation state machine.

Pure values and rules; nothing here knows about storage. The package's modules, each the
one home of what it holds:

* ``_values`` — :class:`Schedule`, :class:`Reservation`, :class:`OrderLine`,
  :class:`ReservationStatus`, :class:`ReservationPage`, :class:`SchedulePage`,
  :class:`HousekeepingReport`;
* ``_state_machine`` — :class:`Action`, :data:`TRANSITIONS`, :func:`transition_target`;
* ``_events`` — :class:`ReservationEvent` and the event's shape (``EVENT_FIELDS``);
* ``_booking`` — whether a booking, or a group of them, fits;
* ``_waitlist`` — :class:`WaitlistEntry`, :class:`WaitlistStatus`, offers' ids;
* ``_validation`` — the checks of every argument the service takes.
"""

from __future__ import annotations

from reservation_core.domain._events import ReservationEvent, event_type
from reservation_core.domain._state_machine import TRANSITIONS, Action, transition_target
from reservation_core.domain._values import (
    HousekeepingReport,
    OrderLine,
    Reservation,
    ReservationPage,
    ReservationStatus,
    Schedule,
    SchedulePage,
)
from reservation_core.domain._waitlist import WaitlistEntry, WaitlistStatus

__all__ = [
    "TRANSITIONS",
    "Action",
    "HousekeepingReport",
    "OrderLine",
    "Reservation",
    "ReservationEvent",
    "ReservationPage",
    "ReservationStatus",
    "Schedule",
    "SchedulePage",
    "WaitlistEntry",
    "WaitlistStatus",
    "event_type",
    "transition_target",
]
