"""The domain: schedules, reservations and the reservation state machine.

Pure values and rules; nothing here knows about storage.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from reservation_core.errors import BusinessException, ErrorCode

__all__ = [
    "TRANSITIONS",
    "Action",
    "Reservation",
    "ReservationEvent",
    "ReservationPage",
    "ReservationStatus",
    "Schedule",
    "event_type",
    "transition_target",
]


class ReservationStatus(enum.StrEnum):
    """The life cycle of a reservation. ``HELD`` and ``CONFIRMED`` hold seats."""

    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"
    EXPIRED = "EXPIRED"

    @property
    def holds_seats(self) -> bool:
        """Whether a reservation in this status counts in its schedule's ``reserved``."""
        return self in _ACTIVE


#: The statuses that hold seats, and that count for the one-per-user rule.
_ACTIVE = frozenset({ReservationStatus.HELD, ReservationStatus.CONFIRMED})


class Action(enum.StrEnum):
    """A move on a reservation: asked by a caller, or (``EXPIRE``) made by the clock."""

    CONFIRM = "confirm"
    CANCEL = "cancel"
    REFUND = "refund"
    EXPIRE = "expire"


#: The state machine as data: for each action and current status, either the status the
#: reservation moves to or the error code that refuses the move.
TRANSITIONS: Mapping[Action, Mapping[ReservationStatus, ReservationStatus | ErrorCode]] = (
    MappingProxyType(
        {
            # Confirming a CONFIRMED reservation answers it unchanged: payment webhooks repeat.
            # A HELD reservation past its expires_at is refused with HOLD_EXPIRED too: the
            # service decides that with its clock, the table only knows statuses.
            Action.CONFIRM: MappingProxyType(
                {
                    ReservationStatus.HELD: ReservationStatus.CONFIRMED,
                    ReservationStatus.CONFIRMED: ReservationStatus.CONFIRMED,
                    ReservationStatus.CANCELLED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.REFUNDED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.EXPIRED: ErrorCode.HOLD_EXPIRED,
                }
            ),
            Action.CANCEL: MappingProxyType(
                {
                    ReservationStatus.HELD: ReservationStatus.CANCELLED,
                    ReservationStatus.CONFIRMED: ReservationStatus.CANCELLED,
                    ReservationStatus.CANCELLED: ErrorCode.RESERVATION_ALREADY_CANCELLED,
                    ReservationStatus.REFUNDED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.EXPIRED: ErrorCode.INVALID_STATE_TRANSITION,
                }
            ),
            Action.REFUND: MappingProxyType(
                {
                    ReservationStatus.HELD: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.CONFIRMED: ReservationStatus.REFUNDED,
                    ReservationStatus.REFUNDED: ErrorCode.ALREADY_REFUNDED,
                    ReservationStatus.CANCELLED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.EXPIRED: ErrorCode.INVALID_STATE_TRANSITION,
                }
            ),
            Action.EXPIRE: MappingProxyType(
                {
                    ReservationStatus.HELD: ReservationStatus.EXPIRED,
                    ReservationStatus.CONFIRMED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.CANCELLED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.REFUNDED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.EXPIRED: ErrorCode.INVALID_STATE_TRANSITION,
                }
            ),
        }
    )
)


def transition_target(action: Action, status: ReservationStatus) -> ReservationStatus:
    """The status ``action`` moves a reservation in ``status`` to.

    Raises:
        BusinessException: with the code :data:`TRANSITIONS` names when the move is refused.
    """
    outcome = TRANSITIONS[action][status]
    if isinstance(outcome, ReservationStatus):
        return outcome
    raise BusinessException(outcome, details={"status": str(status), "action": str(action)})


@dataclasses.dataclass(frozen=True, slots=True)
class Schedule:
    """A scheduled program with a fixed number of seats.

    Attributes:
        id: the caller's identifier of the schedule.
        capacity: the number of seats.
        reserved: the seats held by ``HELD`` and ``CONFIRMED`` reservations.
    """

    id: str
    capacity: int
    reserved: int

    @property
    def remaining(self) -> int:
        """Seats still free: ``capacity - reserved``."""
        return self.capacity - self.reserved


@dataclasses.dataclass(frozen=True, slots=True)
class Reservation:
    """A user's hold on ``quantity`` seats of a schedule; an immutable value.

    Attributes:
        id: a UUID string generated by the library.
        schedule_id: the schedule the seats belong to.
        user_id: the user who holds the reservation.
        quantity: the number of seats.
        status: where the reservation is in its life cycle.
        created_at: when it was made (timezone-aware UTC).
        updated_at: when its status last changed (timezone-aware UTC).
        expires_at: for a hold, when it expires unless confirmed (timezone-aware UTC);
            kept after the hold is confirmed or cancelled. ``None`` for a reservation
            that was never a hold.
    """

    id: str
    schedule_id: str
    user_id: str
    quantity: int
    status: ReservationStatus
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ReservationPage:
    """One page of :meth:`~reservation_core.ReservationService.list_reservations`.

    Attributes:
        items: the reservations, in ``(created_at, id)`` order.
        next_cursor: pass it as ``after=`` for the next page; ``None`` on the last page.
    """

    items: tuple[Reservation, ...]
    next_cursor: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class ReservationEvent:
    """A reservation's state change, appended in the transaction that made it.

    Every change a reservation goes through (made ``CONFIRMED``, ``CANCELLED``,
    ``REFUNDED``, ...) has exactly one event, committed or rolled back with the change:
    no event without its change, no change without its event.

    Attributes:
        id: increasing with the order the events were written (not always the order
            their transactions committed: a consumer may see a lower id after a higher).
        type: ``"reservation."`` and the new status in lower case, e.g.
            ``"reservation.refunded"``.
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
    status: ReservationStatus
    occurred_at: datetime


def event_type(status: ReservationStatus) -> str:
    """The event type of a move to ``status``: ``reservation.confirmed``, ..."""
    return f"reservation.{status.lower()}"
