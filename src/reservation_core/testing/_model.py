"""A pure model of the contract: what every call should answer, given what came before.

Written from the contract the documentation states (its Concepts page for valid
arguments, the Error codes page for the codes and their precedence, the State machine
page for the moves) independently of the service's code (validity is re-stated with
:mod:`unicodedata` rather than borrowed), so that a bug shared by both cannot hide.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta

from reservation_core.domain import TRANSITIONS, Action, Reservation, ReservationStatus, Schedule
from reservation_core.errors import ErrorCode

# The contract's limits, stated here again rather than imported from the code under test:
# an identifier is a str of 1..64 characters without control characters or lone
# surrogates; a capacity is an int (not a bool) in 0..2**31-1, a quantity in 1..2**31-1.
MAX_ID_LENGTH = 64
MAX_COUNT = 2**31 - 1
# A hold lasts a positive timedelta of at most 365 days.
MAX_HOLD = timedelta(days=365)
# Seats are held by HELD and CONFIRMED reservations.
ACTIVE = frozenset({ReservationStatus.HELD, ReservationStatus.CONFIRMED})


def is_valid_id(value: object) -> bool:
    """Whether ``value`` is an identifier the contract accepts."""
    return (
        type(value) is str
        and 1 <= len(value) <= MAX_ID_LENGTH
        and not any(unicodedata.category(c) in ("Cc", "Cs") for c in value)
    )


def is_valid_count(value: object, minimum: int) -> bool:
    """Whether ``value`` is a count the contract accepts (``bool`` is not an ``int`` here)."""
    return type(value) is int and minimum <= value <= MAX_COUNT


def is_valid_hold(value: object) -> bool:
    """Whether ``value`` is a ``hold_for`` the contract accepts."""
    return isinstance(value, timedelta) and timedelta(0) < value <= MAX_HOLD


def lapsed(reservation: Reservation, now: datetime) -> bool:
    """Whether ``reservation`` is a hold past its ``expires_at`` (which is itself past).

    A lapsed hold no longer blocks anyone, but the service expires it lazily: until it is
    observed ``EXPIRED`` it may still read as ``HELD``, and its seats count until then.
    """
    return (
        reservation.status is ReservationStatus.HELD
        and reservation.expires_at is not None
        and reservation.expires_at <= now
    )


@dataclasses.dataclass(frozen=True)
class Refusal:
    """An expected ``BusinessException``: its code, and what its details must hold."""

    code: ErrorCode
    details: dict[str, object] = dataclasses.field(default_factory=dict)
    #: For ``VALIDATION_ERROR``: the fields ``details["field"]`` may name.
    fields: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class KeyUse:
    """The request an idempotency key first made, and the reservation it made."""

    schedule_id: str
    quantity: int
    reservation_id: str
    hold: bool = False


#: ``create_reservation`` is expected to make a new reservation (its id and times unknown).
NEW = "NEW"


def invalid_fields(
    ids: Mapping[str, object],
    *,
    optional_ids: Mapping[str, object] | None = None,
    counts: Mapping[str, tuple[object, int]] | None = None,
    holds: Mapping[str, object] | None = None,
) -> Refusal | None:
    """``VALIDATION_ERROR`` naming any of the invalid arguments, or ``None`` if all are valid.

    ``ids`` and ``optional_ids`` map field names to identifiers (``None`` is valid only in
    ``optional_ids``); ``counts`` maps field names to ``(value, minimum)``.
    """
    bad = {name for name, value in ids.items() if not is_valid_id(value)}
    bad |= {
        name
        for name, value in (optional_ids or {}).items()
        if value is not None and not is_valid_id(value)
    }
    bad |= {name for name, (value, low) in (counts or {}).items() if not is_valid_count(value, low)}
    bad |= {name for name, value in (holds or {}).items() if not is_valid_hold(value)}
    return Refusal(ErrorCode.VALIDATION_ERROR, fields=frozenset(bad)) if bad else None


class Model:
    """Schedules, reservations (as last returned) and idempotency keys of one test run."""

    def __init__(self) -> None:
        self.capacities: dict[str, int] = {}
        self.reservations: dict[str, Reservation] = {}
        self.keys: dict[tuple[str, str], KeyUse] = {}

    def reserved(self, schedule_id: str) -> int:
        """Seats held by the schedule's ``HELD`` and ``CONFIRMED`` reservations, as recorded."""
        return sum(
            r.quantity
            for r in self.reservations.values()
            if r.schedule_id == schedule_id and r.status in ACTIVE
        )

    def blocking(self, schedule_id: str, now: datetime) -> int:
        """Seats that block a booking at ``now``: a lapsed hold's seats do not."""
        return sum(
            r.quantity
            for r in self.reservations.values()
            if r.schedule_id == schedule_id and r.status in ACTIVE and not lapsed(r, now)
        )

    def schedule(self, schedule_id: str) -> Schedule:
        """The schedule as the service must report it."""
        return Schedule(schedule_id, self.capacities[schedule_id], self.reserved(schedule_id))

    def _active_of(self, schedule_id: str, user_id: str, now: datetime) -> Reservation | None:
        for r in self.reservations.values():
            if (r.schedule_id, r.user_id) == (schedule_id, user_id) and r.status in ACTIVE:
                return None if lapsed(r, now) else r
        return None

    def _unknown_schedule(self, schedule_id: str) -> Refusal | None:
        if schedule_id in self.capacities:
            return None
        return Refusal(ErrorCode.SCHEDULE_NOT_FOUND)

    # -- expectations: a Refusal, or what success returns ------------------------------

    def create_schedule(self, schedule_id: str, capacity: int) -> Refusal | Schedule:
        """``SCHEDULE_ALREADY_EXISTS``, or the new schedule."""
        if schedule_id in self.capacities:
            return Refusal(ErrorCode.SCHEDULE_ALREADY_EXISTS)
        return Schedule(schedule_id, capacity, 0)

    def get_schedule(self, schedule_id: str) -> Refusal | Schedule:
        """``SCHEDULE_NOT_FOUND``, or the schedule."""
        return self._unknown_schedule(schedule_id) or self.schedule(schedule_id)

    def change_capacity(self, schedule_id: str, capacity: int) -> Refusal | Schedule:
        """``SCHEDULE_NOT_FOUND``, ``CAPACITY_BELOW_RESERVED``, or the changed schedule."""
        if refusal := self._unknown_schedule(schedule_id):
            return refusal
        if capacity < self.reserved(schedule_id):
            return Refusal(ErrorCode.CAPACITY_BELOW_RESERVED)
        return Schedule(schedule_id, capacity, self.reserved(schedule_id))

    def create_reservation(
        self,
        schedule_id: str,
        user_id: str,
        quantity: int,
        key: str | None,
        *,
        now: datetime,
        hold: bool = False,
    ) -> Refusal | Reservation | str:
        """A refusal, the replayed reservation as it is now, or :data:`NEW`.

        For a booking (``hold=False``) or a hold. When several rules fail, the first in the
        contract's order wins: not found, then the idempotency key (replay or reuse), then
        duplicate, then capacity (validation comes before all of them; see the error codes
        page of the documentation). A lapsed hold is neither a duplicate nor a seat taken.
        """
        if refusal := self._unknown_schedule(schedule_id):
            return refusal
        used = None if key is None else self.keys.get((user_id, key))
        if used is not None:
            if (used.schedule_id, used.quantity, used.hold) == (schedule_id, quantity, hold):
                return self.reservations[used.reservation_id]
            return Refusal(ErrorCode.IDEMPOTENCY_KEY_REUSED)
        if held := self._active_of(schedule_id, user_id, now):
            return Refusal(ErrorCode.DUPLICATE_RESERVATION, {"reservation_id": held.id})
        remaining = self.capacities[schedule_id] - self.blocking(schedule_id, now)
        if quantity > remaining:
            return Refusal(
                ErrorCode.CAPACITY_EXCEEDED, {"requested": quantity, "remaining": remaining}
            )
        return NEW

    def get_reservation(self, reservation_id: str, user_id: str | None) -> Refusal | Reservation:
        """``RESERVATION_NOT_FOUND`` (unknown, or not ``user_id``'s), or the reservation."""
        reservation = self.reservations.get(reservation_id)
        if reservation is None or user_id not in (None, reservation.user_id):
            return Refusal(ErrorCode.RESERVATION_NOT_FOUND)
        return reservation

    def move(
        self, action: Action, reservation_id: str, user_id: str | None, *, now: datetime
    ) -> Refusal | ReservationStatus:
        """Not found, the refusal :data:`TRANSITIONS` names, or the status moved to.

        Confirming or extending a lapsed hold is ``HOLD_EXPIRED``, as for an ``EXPIRED`` one.
        """
        found = self.get_reservation(reservation_id, user_id)
        if isinstance(found, Refusal):
            return found
        if action in (Action.CONFIRM, Action.EXTEND) and lapsed(found, now):
            return Refusal(ErrorCode.HOLD_EXPIRED, {"reservation_id": found.id})
        outcome = TRANSITIONS[action][found.status]
        return outcome if isinstance(outcome, ReservationStatus) else Refusal(outcome)

    def page(
        self, schedule_id: str | None, user_id: str | None, status: ReservationStatus | None
    ) -> list[Reservation]:
        """Every reservation ``list_reservations`` must list, in ``(created_at, id)`` order."""
        return sorted(
            (
                r
                for r in self.reservations.values()
                if schedule_id in (None, r.schedule_id)
                and user_id in (None, r.user_id)
                and status in (None, r.status)
            ),
            key=lambda r: (r.created_at, r.id),
        )

    # -- recording what the service did ----------------------------------------------------

    def set_capacity(self, schedule_id: str, capacity: int) -> None:
        """Record a created schedule or a changed capacity."""
        self.capacities[schedule_id] = capacity

    def record(
        self, reservation: Reservation, key: str | None = None, *, hold: bool = False
    ) -> None:
        """Record a reservation as the service last returned it (and the key that made it)."""
        self.reservations[reservation.id] = reservation
        if key is not None:
            self.keys.setdefault(
                (reservation.user_id, key),
                KeyUse(reservation.schedule_id, reservation.quantity, reservation.id, hold),
            )

    def lapsed_holds(self, now: datetime, schedule_id: str | None = None) -> list[Reservation]:
        """The recorded holds that have lapsed at ``now`` (of one schedule, or all)."""
        return [
            r
            for r in self.reservations.values()
            if lapsed(r, now) and schedule_id in (None, r.schedule_id)
        ]
