"""The use cases of waiting lists: join, leave, read (private)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from reservation_core._use_cases._offers import offer_seats, settle
from reservation_core._use_cases._plan import MAX_HOLD, Cases, Plan, Step
from reservation_core._use_cases._rules import (
    drift,
    duplicate,
    existing_schedule,
    expire_holds,
)
from reservation_core.domain import ReservationStatus
from reservation_core.domain._validation import (
    check_count,
    check_duration,
    check_id,
    check_optional_id,
)
from reservation_core.domain._waitlist import WaitlistEntry, WaitlistStatus
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import AbstractUnitOfWork, DuplicateReservationError, TransientConflict

WAITING, OFFERED, LEFT = WaitlistStatus.WAITING, WaitlistStatus.OFFERED, WaitlistStatus.LEFT
#: How long an offer stays open unless the caller says otherwise.
DEFAULT_OFFER = timedelta(hours=1)


def owned_entry(uow: AbstractUnitOfWork, entry_id: str, user_id: str | None) -> WaitlistEntry:
    """The entry, or ``WAITLIST_ENTRY_NOT_FOUND`` (unknown, or another user's)."""
    entry = uow.waitlist.get(entry_id)
    if entry is None or (user_id is not None and entry.user_id != user_id):
        raise BusinessException(ErrorCode.WAITLIST_ENTRY_NOT_FOUND, details={"entry_id": entry_id})
    return entry


def _duplicate_entry(entry: WaitlistEntry) -> BusinessException:
    return BusinessException(ErrorCode.DUPLICATE_WAITLIST_ENTRY, details={"entry_id": entry.id})


def _not_on_the_list(entry: WaitlistEntry) -> BusinessException:
    return BusinessException(
        ErrorCode.INVALID_STATE_TRANSITION,
        "Only a WAITING or OFFERED entry can leave the waiting list.",
        details={"entry_id": entry.id, "status": str(entry.status), "action": "leave"},
    )


class WaitlistCases(Cases):
    """The use cases of waiting lists."""

    __slots__ = ()

    def join_waitlist(
        self, schedule_id: object, user_id: object, quantity: object, offer_for: object
    ) -> Plan[WaitlistEntry]:
        sid = check_id("schedule_id", schedule_id)
        uid = check_id("user_id", user_id)
        seats = check_count("quantity", quantity, minimum=1)
        duration = check_duration("offer_for", offer_for, maximum=MAX_HOLD)

        def use_case(uow: AbstractUnitOfWork) -> WaitlistEntry:
            existing_schedule(uow, sid)
            found = uow.waitlist.find_active(sid, uid)
            if found is not None:  # checked first: the user already waits (or holds an offer)
                raise _duplicate_entry(found)
            now = self._now()
            uow.schedules.lock([sid])  # the schedule and its pools, in id order
            expire_holds(uow, sid, now)  # lapsed holds first go to those already waiting
            active = uow.reservations.find_active(sid, uid)
            if active is not None:
                raise duplicate(active)
            entry = WaitlistEntry(
                id=str(uuid.uuid4()),
                schedule_id=sid,
                user_id=uid,
                quantity=seats,
                status=WAITING,
                position=None,
                reservation_id=None,
                created_at=now,
                updated_at=now,
            )
            try:
                uow.waitlist.add(entry, duration)
            except DuplicateReservationError:  # a concurrent join won
                uow.rollback()
                raise TransientConflict("a concurrent join of the same user") from None
            uow.schedules.move_waitlist(sid, 1)
            offer_seats(uow, sid, now)  # first fit, at once: offered now if its seats are free
            joined = uow.waitlist.get(entry.id)
            uow.commit()
            return joined or entry

        result: WaitlistEntry = yield Step(use_case)
        return result

    def leave_waitlist(self, entry_id: object, user_id: object) -> Plan[WaitlistEntry]:
        eid = check_id("entry_id", entry_id)
        owner = check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> WaitlistEntry:
            entry = owned_entry(uow, eid, owner)
            if not entry.status.on_the_list:
                raise _not_on_the_list(entry)
            now = self._now()
            uow.schedules.lock([entry.schedule_id])  # counters first, in id order
            if entry.status is OFFERED and entry.reservation_id is not None:
                # Leaving cancels the offer's hold: its seats go on to the next entries.
                hold = uow.reservations.get(entry.reservation_id)
                if hold is not None and hold.status is ReservationStatus.HELD:
                    if uow.schedules.release_seats(hold.schedule_id, hold.quantity) is None:
                        raise drift(hold.schedule_id)
                    cancelled = ReservationStatus.CANCELLED
                    if not uow.reservations.try_transition(hold.id, hold.status, cancelled, now):
                        raise TransientConflict("an offer moved under a held schedule lock")
                if not settle(uow, owned_entry(uow, eid, None), now):
                    raise TransientConflict("an offer was answered while its entry left")
            else:
                if not uow.waitlist.move(eid, entry.status, LEFT, now):
                    raise TransientConflict("a waiting entry moved under a held schedule lock")
                uow.schedules.move_waitlist(entry.schedule_id, -1)
            offer_seats(uow, entry.schedule_id, now)
            uow.commit()
            return owned_entry(uow, eid, None)

        result: WaitlistEntry = yield Step(use_case)
        return result

    def get_waitlist_entry(self, entry_id: object, user_id: object) -> Plan[WaitlistEntry]:
        eid = check_id("entry_id", entry_id)
        owner = check_optional_id("user_id", user_id)
        result: WaitlistEntry = yield Step(lambda uow: owned_entry(uow, eid, owner))
        return result
