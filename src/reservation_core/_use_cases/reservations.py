"""The use cases of reservations: book, hold, confirm, cancel, refund, read, list (private)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

from reservation_core._use_cases._offers import offer_seats, settle_offer
from reservation_core._use_cases._plan import MAX_HOLD, Cases, Plan, Step
from reservation_core._use_cases._rules import (
    after_lapse,
    confirmable,
    drift,
    duplicate,
    existing_schedule,
    expire_holds,
    fingerprint,
    line_refusal,
    new_reservation,
    owned_reservation,
    refusal,
    replay_or_store,
    require,
    short,
    take_lines,
)
from reservation_core._use_cases.paging import MAX_PAGE_SIZE, decode_cursor, encode_cursor
from reservation_core.domain import (
    Action,
    Reservation,
    ReservationPage,
    ReservationStatus,
    transition_target,
)
from reservation_core.domain._booking import counters_of, fits, lapsed
from reservation_core.domain._validation import (
    check_count,
    check_duration,
    check_id,
    check_instant_after,
    check_optional_id,
    check_status,
    invalid,
)
from reservation_core.domain._waitlist import is_offer
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import (
    AbstractUnitOfWork,
    DuplicateReservationError,
    IdempotencyRecord,
    TransientConflict,
)


class ReservationCases(Cases):
    """The use cases of reservations."""

    __slots__ = ()

    def create_reservation(
        self, schedule_id: object, user_id: object, quantity: object, idempotency_key: object
    ) -> Plan[Reservation]:
        return self._book(schedule_id, user_id, quantity, idempotency_key, hold_for=None)

    def hold_reservation(
        self,
        schedule_id: object,
        user_id: object,
        quantity: object,
        hold_for: object,
        idempotency_key: object,
    ) -> Plan[Reservation]:
        # ``hold_for`` is checked after the arguments before it (in signature order).
        check_id("schedule_id", schedule_id)
        check_id("user_id", user_id)
        check_count("quantity", quantity, minimum=1)
        duration = check_duration("hold_for", hold_for, maximum=MAX_HOLD)
        return (
            yield from self._book(
                schedule_id, user_id, quantity, idempotency_key, hold_for=duration
            )
        )

    def confirm_reservation(self, reservation_id: object, user_id: object) -> Plan[Reservation]:
        rid = check_id("reservation_id", reservation_id)
        owner = check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            current = confirmable(owned_reservation(uow, rid, owner))
            if current.status is ReservationStatus.CONFIRMED:
                return current
            now = self._now()
            offer = is_offer(rid)
            if offer:  # its entry's count is on the schedule's row: that lock first
                uow.schedules.lock([current.schedule_id])
            if uow.reservations.confirm_hold(rid, now):
                if offer:
                    settle_offer(uow, rid, now)
                uow.commit()
                return dataclasses.replace(
                    current, status=ReservationStatus.CONFIRMED, updated_at=now
                )
            return after_lapse(uow, Action.CONFIRM, current, now)

        result: Reservation = yield Step(use_case)
        return result

    def move(self, action: Action, reservation_id: object, user_id: object) -> Plan[Reservation]:
        """Cancel or refund: the seats return, the status moves, atomically."""
        rid = check_id("reservation_id", reservation_id)
        owner = check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            current = owned_reservation(uow, rid, owner)
            target = transition_target(action, current.status)
            now = self._now()
            # Schedule row first (lock order), then the compare-and-set on the reservation,
            # which alone decides: a release that a concurrent winner made moot rolls back.
            waiting = uow.schedules.release_seats(current.schedule_id, current.quantity)
            if not uow.reservations.try_transition(rid, current.status, target, now):
                uow.rollback()
                transition_target(action, owned_reservation(uow, rid, None).status)
                raise TransientConflict("status changed under a held schedule lock")
            if waiting is None:
                raise drift(current.schedule_id)
            if waiting:  # the seats go to the waiting list (and an offer cancelled: LEFT)
                offer_seats(uow, current.schedule_id, now)
            uow.commit()
            return dataclasses.replace(current, status=target, updated_at=now)

        result: Reservation = yield Step(use_case)
        return result

    def get_reservation(self, reservation_id: object, user_id: object) -> Plan[Reservation]:
        rid = check_id("reservation_id", reservation_id)
        owner = check_optional_id("user_id", user_id)
        result: Reservation = yield Step(lambda uow: owned_reservation(uow, rid, owner))
        return result

    def list_reservations(
        self,
        schedule_id: object,
        user_id: object,
        status: object,
        limit: object,
        after: object,
    ) -> Plan[ReservationPage]:
        sid = check_optional_id("schedule_id", schedule_id)
        uid = check_optional_id("user_id", user_id)
        if sid is None and uid is None:
            raise invalid("schedule_id", "schedule_id or user_id is required", None)
        wanted = check_status(status)
        size = check_count("limit", limit, minimum=1, maximum=MAX_PAGE_SIZE)
        position = decode_cursor(after)

        def use_case(uow: AbstractUnitOfWork) -> ReservationPage:
            found = uow.reservations.page(
                schedule_id=sid, user_id=uid, status=wanted, after=position, limit=size + 1
            )
            items = tuple(found[:size])
            more = len(found) > size
            return ReservationPage(items, encode_cursor(items[-1]) if more else None)

        result: ReservationPage = yield Step(use_case)
        return result

    def release_expired_holds(self) -> Plan[int]:
        lapsed: list[str] = yield Step(
            lambda uow: uow.reservations.schedules_with_expired_holds(self._now())
        )
        expired = 0
        for schedule_id in lapsed:

            def sweep(uow: AbstractUnitOfWork, schedule_id: str = schedule_id) -> int:
                count = expire_holds(uow, schedule_id, self._now())
                uow.commit()
                return count

            swept: int = yield Step(sweep)
            expired += swept
        return expired

    def purge_expired_idempotency_keys(self) -> Plan[int]:
        def use_case(uow: AbstractUnitOfWork) -> int:
            count = uow.idempotency_keys.purge(self._now() - self._idempotency_ttl)
            uow.commit()
            return count

        result: int = yield Step(use_case)
        return result

    # -- internals -------------------------------------------------------------------------

    def _book(
        self,
        schedule_id: object,
        user_id: object,
        quantity: object,
        idempotency_key: object,
        *,
        hold_for: timedelta | None,
    ) -> Plan[Reservation]:
        """A booking (``hold_for is None``) or a hold (``hold_for`` already checked)."""
        sid = check_id("schedule_id", schedule_id)
        uid = check_id("user_id", user_id)
        seats = check_count("quantity", quantity, minimum=1)
        key = check_optional_id("idempotency_key", idempotency_key)

        def attempt(uow: AbstractUnitOfWork, last: bool) -> Reservation | None:
            now = self._now()
            expires_at = (
                None if hold_for is None else check_instant_after("hold_for", now, hold_for)
            )
            reservation = new_reservation(sid, uid, seats, now, expires_at=expires_at)
            if key is not None:
                request = fingerprint(sid, seats, hold=hold_for is not None)
                record = IdempotencyRecord(uid, key, request, reservation.id, now)
                replayed = replay_or_store(
                    uow,
                    record,
                    self._idempotency_ttl,
                    found=lambda: existing_schedule(uow, sid),  # "not found" outranks reuse
                    load=uow.reservations.get,
                )
                if replayed is not None:
                    return replayed
            try:
                booked = uow.add_reservation_and_commit(reservation)
                # The fast paths book schedules without pools only: one with pools (read
                # only here, once the fast path said no) is booked as an order of one line.
                if not booked and existing_schedule(uow, sid).pools:
                    refused = take_lines(uow, [reservation], now)
                    if refused is not None:
                        raise line_refusal(uow, refused, reservation)
                    uow.commit()
                    return reservation
                # Short of seats: the schedule's lapsed holds go first, in this transaction
                # (the schedule row is the first lock either way), then one more try.
                if not booked and expire_holds(uow, sid, now):
                    booked = uow.add_reservation_and_commit(reservation)
            except DuplicateReservationError:
                uow.rollback()
                existing = uow.reservations.find_active(sid, uid)
                if existing is None:  # it was cancelled since: a fresh attempt may succeed
                    raise TransientConflict("duplicate reservation vanished") from None
                if last or not lapsed(existing, now):
                    raise duplicate(existing) from None
                # The user's own lapsed hold blocks them: expire it, then book again.
                expire_holds(uow, sid, now)
                uow.commit()
                return None
            if not booked:  # rolls back, with any holds it expired: the next booking will
                raise refusal(uow, sid, uid, seats)
            return reservation

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            return attempt(uow, last=False) or require(attempt(uow, last=True))

        plain = hold_for is None and key is None
        result: Reservation = yield Step(use_case, sid, (uid, seats) if plain else None)
        return result

    def book_group(
        self, members: list[tuple[str, str, int]]
    ) -> Callable[[AbstractUnitOfWork], list[Reservation | None]]:
        """A use case booking ``members`` together, on one schedule or several.

        ``members`` are ``(schedule_id, user_id, quantity)``, in arrival order.
        Its result has each member's reservation, or ``None`` for one the group did not
        book (too few seats, or an active reservation of the user): that one is booked
        alone, through the plain use case, which refuses it or books it exactly as if it
        had come by itself.
        """

        def use_case(uow: AbstractUnitOfWork) -> list[Reservation | None]:
            now = self._now()
            group = [
                new_reservation(schedule_id, user_id, quantity, now)
                for schedule_id, user_id, quantity in members
            ]
            booked = uow.add_group_and_commit(group)
            return [r if ok else None for r, ok in zip(group, booked, strict=True)]

        return use_case

    def change_quantity(
        self, reservation_id: object, quantity: object, user_id: object
    ) -> Plan[Reservation]:
        """More seats taken from the schedule and its pools, or fewer returned, atomically."""
        rid = check_id("reservation_id", reservation_id)
        seats = check_count("quantity", quantity, minimum=1)
        owner = check_optional_id("user_id", user_id)

        def use_case(uow: AbstractUnitOfWork) -> Reservation:
            current = owned_reservation(uow, rid, owner)
            now = self._now()
            if lapsed(current, now):  # it expires, its seats return (committed), then refused
                expire_holds(uow, current.schedule_id, now)
                uow.commit()
                confirmable(owned_reservation(uow, rid, None))  # raises HOLD_EXPIRED
                raise TransientConflict("a lapsed hold was confirmed meanwhile")
            if not current.status.holds_seats:
                raise BusinessException(
                    ErrorCode.INVALID_STATE_TRANSITION,
                    "Only a HELD or CONFIRMED reservation can change its quantity.",
                    details={
                        "reservation_id": rid,
                        "status": str(current.status),
                        "action": "change_quantity",
                    },
                )
            change = seats - current.quantity
            if change == 0:
                return current
            # The schedule and its pools first (in id order), then the reservation's row.
            counters = uow.schedules.lock([current.schedule_id])
            counted = counters_of(counters[current.schedule_id])
            if change > 0:
                for counter in counted:
                    if not fits(change, counters[counter].remaining):
                        pooled = bool(counters[current.schedule_id].pools)
                        remaining = counters[counter].remaining
                        raise short(change, remaining, counter if pooled else None)
            elif any(counters[counter].reserved < -change for counter in counted):
                raise drift(current.schedule_id)
            uow.schedules.move_seats(dict.fromkeys(counted, change))
            if not uow.reservations.set_quantity(rid, current.status, current.quantity, seats, now):
                uow.rollback()
                raise TransientConflict("a reservation moved under its quantity change")
            if change < 0 and counters[current.schedule_id].waitlisted:
                offer_seats(uow, current.schedule_id, now)  # fewer seats: the list first
            uow.commit()
            return dataclasses.replace(current, quantity=seats, updated_at=now)

        result: Reservation = yield Step(use_case)
        return result
