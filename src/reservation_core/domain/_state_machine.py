"""The reservation state machine as data, and the one function that reads it (private)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from reservation_core.domain._values import ReservationStatus
from reservation_core.errors import BusinessException, ErrorCode


class Action(enum.StrEnum):
    """A move on a reservation: asked by a caller, or (``EXPIRE``) made by the clock."""

    CONFIRM = "confirm"
    CANCEL = "cancel"
    REFUND = "refund"
    EXPIRE = "expire"
    EXTEND = "extend"


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
            # Extending a hold keeps it HELD with a later expires_at; past its expires_at
            # it is HOLD_EXPIRED, as for confirm (the service decides that with its clock).
            Action.EXTEND: MappingProxyType(
                {
                    ReservationStatus.HELD: ReservationStatus.HELD,
                    ReservationStatus.CONFIRMED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.CANCELLED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.REFUNDED: ErrorCode.INVALID_STATE_TRANSITION,
                    ReservationStatus.EXPIRED: ErrorCode.HOLD_EXPIRED,
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
