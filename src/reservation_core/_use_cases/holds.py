"""The use cases of holds beyond booking one: extend it (private)."""

from __future__ import annotations

import dataclasses

from reservation_core._use_cases._plan import MAX_HOLD, Cases, Plan, Step
from reservation_core._use_cases._rules import after_lapse, allowed, owned_reservation
from reservation_core.domain import Action, Reservation
from reservation_core.domain._validation import (
    check_duration,
    check_id,
    check_instant_after,
    check_optional_id,
)
from reservation_core.ports import AbstractUnitOfWork


class HoldCases(Cases):
    """The use cases of holds."""

    __slots__ = ()

    def extend_hold(
        self, reservation_id: object, hold_for: object, user_id: object
    ) -> Plan[Reservation]:
        rid = check_id("reservation_id", reservation_id)
        duration = check_duration("hold_for", hold_for, maximum=MAX_HOLD)
        owner = check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            current = allowed(Action.EXTEND, owned_reservation(uow, rid, owner))
            now = self._now()
            expires_at = check_instant_after("hold_for", now, duration)
            # A compare-and-set on HELD and unexpired, as confirm's: of an extension and a
            # confirm, cancel or expiry racing on the hold, exactly one wins.
            if uow.reservations.extend_hold(rid, now, expires_at):
                uow.commit()
                return dataclasses.replace(current, updated_at=now, expires_at=expires_at)
            return after_lapse(uow, Action.EXTEND, current, now)

        result: Reservation = yield Step(use_case)
        return result
