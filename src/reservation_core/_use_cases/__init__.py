"""The use cases, written once, free of how they are awaited (private).

Each public operation of the services is a *plan*: a generator that checks the arguments,
then yields :class:`Step` s — a function of a unit of work, run in one transaction and
retried as a whole — and receives each step's result. Every use case but one is a single
step; ``release_expired_holds`` is one step per schedule. The plans do no I/O themselves:
:class:`~reservation_core.ReservationService` runs each step in a unit of work in the
calling thread, :class:`~reservation_core.AsyncReservationService` awaits it. The steps
call the repositories synchronously; an asynchronous unit of work runs them without
blocking its event loop (the SQLAlchemy adapter through SQLAlchemy's own greenlet bridge,
``AsyncConnection.run_sync``), so the repositories and their statements exist once too.

One module per subject (``schedules``, ``reservations``, ``holds``, ``orders``,
``waitlists``, ``events``, ``housekeeping``), each a group of plans
over the shared clock (``_plan.Cases``); the checks and refusals they share are in
``_rules``, the list cursor in ``paging``. A new use case is a new method in its subject's
module (or a new module, added to :class:`UseCases`), never a pair of sync and async twins.
"""

from __future__ import annotations

from reservation_core._use_cases._plan import DEFAULT_HOLD, MAX_HOLD, Plan, Step, utc_now
from reservation_core._use_cases.events import EventCases
from reservation_core._use_cases.holds import HoldCases
from reservation_core._use_cases.housekeeping import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EVENT_RETENTION,
    HousekeepingCases,
)
from reservation_core._use_cases.orders import OrderCases
from reservation_core._use_cases.reservations import ReservationCases
from reservation_core._use_cases.schedules import ScheduleCases
from reservation_core._use_cases.waitlists import DEFAULT_OFFER, WaitlistCases

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_EVENT_RETENTION",
    "DEFAULT_HOLD",
    "DEFAULT_OFFER",
    "MAX_HOLD",
    "Plan",
    "Step",
    "UseCases",
    "utc_now",
]


class UseCases(
    ScheduleCases,
    ReservationCases,
    HoldCases,
    OrderCases,
    WaitlistCases,
    EventCases,
    HousekeepingCases,
):
    """Every use case as a :data:`Plan`, over one clock and idempotency TTL."""

    __slots__ = ()
