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

from reservation_core.domain import (
    TRANSITIONS,
    Action,
    OrderLine,
    Reservation,
    ReservationStatus,
    Schedule,
)
from reservation_core.errors import ErrorCode
from reservation_core.testing._waitlists import Waitlists

# The contract's limits, stated here again rather than imported from the code under test:
# an identifier is a str of 1..64 characters without control characters or lone
# surrogates; a capacity is an int (not a bool) in 0..2**31-1, a quantity in 1..2**31-1.
MAX_ID_LENGTH = 64
MAX_COUNT = 2**31 - 1
# A hold lasts a positive timedelta of at most 365 days.
MAX_HOLD = timedelta(days=365)
# An order has 1..50 lines, each on its own schedule; a schedule has 0..8 pools.
MAX_ORDER_LINES = 50
MAX_POOLS = 8
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


def is_valid_lines(value: object) -> bool:
    """Whether ``value`` is an order's ``lines`` the contract accepts.

    A list (or tuple) of 1 to 50 :class:`OrderLine` s with valid ids and quantities, each
    on a schedule of its own.
    """
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_ORDER_LINES:
        return False
    if not all(
        isinstance(line, OrderLine)
        and is_valid_id(line.schedule_id)
        and is_valid_count(line.quantity, 1)
        for line in value
    ):
        return False
    return len({line.schedule_id for line in value}) == len(value)


def is_valid_pools(schedule_id: object, value: object) -> bool:
    """Whether ``value`` is a ``pools`` the contract accepts for ``schedule_id``.

    A list (or tuple) of 0 to 8 distinct valid ids, the schedule's own not among them.
    """
    return (
        isinstance(value, (list, tuple))
        and len(value) <= MAX_POOLS
        and all(is_valid_id(pool) for pool in value)
        and len(set(value)) == len(value)
        and schedule_id not in value
    )


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


@dataclasses.dataclass(frozen=True)
class OrderKeyUse:
    """The order an idempotency key first made: its lines, its ``hold_for``, its id."""

    lines: tuple[tuple[str, int], ...]
    hold_for: timedelta | None
    order_id: str


#: ``create_reservation`` (or ``create_order``) is expected to make a new reservation (or
#: order): its ids and times unknown.
NEW = "NEW"


def invalid_fields(
    ids: Mapping[str, object],
    *,
    optional_ids: Mapping[str, object] | None = None,
    counts: Mapping[str, tuple[object, int]] | None = None,
    holds: Mapping[str, object] | None = None,
    others: Mapping[str, bool] | None = None,
) -> Refusal | None:
    """``VALIDATION_ERROR`` naming any of the invalid arguments, or ``None`` if all are valid.

    ``ids`` and ``optional_ids`` map field names to identifiers (``None`` is valid only in
    ``optional_ids``); ``counts`` maps field names to ``(value, minimum)``; ``others``
    maps field names to whether their (otherwise checked) value is valid.
    """
    bad = {name for name, value in ids.items() if not is_valid_id(value)}
    bad |= {
        name
        for name, value in (optional_ids or {}).items()
        if value is not None and not is_valid_id(value)
    }
    bad |= {name for name, (value, low) in (counts or {}).items() if not is_valid_count(value, low)}
    bad |= {name for name, value in (holds or {}).items() if not is_valid_hold(value)}
    bad |= {name for name, valid in (others or {}).items() if not valid}
    return Refusal(ErrorCode.VALIDATION_ERROR, fields=frozenset(bad)) if bad else None


class Model:
    """Schedules (and their pools), reservations (as last returned), orders and keys of a run."""

    def __init__(self) -> None:
        self.capacities: dict[str, int] = {}
        self.pools: dict[str, tuple[str, ...]] = {}
        self.reservations: dict[str, Reservation] = {}
        self.keys: dict[tuple[str, str], KeyUse | OrderKeyUse] = {}
        #: Each order's lines (their reservation ids), in the order given.
        self.orders: dict[str, tuple[str, ...]] = {}
        self.waitlists = Waitlists()

    def counters(self, schedule_id: str) -> tuple[str, ...]:
        """The counters a seat on the schedule takes: itself, then each of its pools."""
        return (schedule_id, *self.pools[schedule_id])

    def reserved(self, schedule_id: str) -> int:
        """Seats held by ``HELD`` and ``CONFIRMED`` reservations, as recorded.

        On a pool: those on the pool itself and on every schedule that lists it.
        """
        return sum(
            r.quantity
            for r in self.reservations.values()
            if r.status in ACTIVE and schedule_id in self.counters(r.schedule_id)
        )

    def schedule(self, schedule_id: str) -> Schedule:
        """The schedule as the service must report it."""
        return Schedule(
            schedule_id,
            self.capacities[schedule_id],
            self.reserved(schedule_id),
            self.pools[schedule_id],
        )

    def related(self, schedule_id: str) -> set[str]:
        """The schedules whose reservations a booking on ``schedule_id`` counts with.

        Itself, its pools, and every schedule that lists one of those as a pool.
        """
        counters = set(self.counters(schedule_id))
        return counters | {sid for sid, pools in self.pools.items() if counters & set(pools)}

    def _active_of(self, schedule_id: str, user_id: str, now: datetime) -> Reservation | None:
        for r in self.reservations.values():
            if (r.schedule_id, r.user_id) == (schedule_id, user_id) and r.status in ACTIVE:
                return None if lapsed(r, now) else r
        return None

    def _unknown_schedule(self, schedule_id: str) -> Refusal | None:
        if schedule_id in self.capacities:
            return None
        return Refusal(ErrorCode.SCHEDULE_NOT_FOUND, {"schedule_id": schedule_id})

    def _free(self, counter: str, expiring: set[str], now: datetime) -> int:
        """A counter's seats left once the lapsed holds of the ``expiring`` schedules expired.

        Only those: a booking expires its own schedules' lapsed holds, never a pool's
        other schedules', whose lapsed holds keep their seats until something expires them.
        """
        return self.capacities[counter] - sum(
            r.quantity
            for r in self.reservations.values()
            if r.status in ACTIVE
            and counter in self.counters(r.schedule_id)
            and not (r.schedule_id in expiring and lapsed(r, now))
        )

    def _first_refused_line(
        self, user_id: str, lines: list[tuple[str, int]], now: datetime
    ) -> tuple[int, Refusal] | None:
        """The first line (and its refusal) that does not fit, all lines booked together.

        Each line's schedule first expires its lapsed holds; lines are decided in the order
        given, each after the seats of the lines before it (two lines may share a pool).
        Within a line: not found, then duplicate, then the schedule's own seats, then each
        pool's in sorted order (``details["schedule_id"]`` names the short counter of a
        schedule with pools).
        """
        expiring = {sid for sid, _ in lines if sid in self.capacities}
        free: dict[str, int] = {}
        for index, (sid, quantity) in enumerate(lines):
            if refusal := self._unknown_schedule(sid):
                return index, refusal
            if held := self._active_of(sid, user_id, now):
                return index, Refusal(ErrorCode.DUPLICATE_RESERVATION, {"reservation_id": held.id})
            for counter in self.counters(sid):
                left = free.setdefault(counter, self._free(counter, expiring, now))
                if quantity > left:
                    details: dict[str, object] = {"requested": quantity, "remaining": left}
                    if self.pools[sid]:
                        details["schedule_id"] = counter
                    return index, Refusal(ErrorCode.CAPACITY_EXCEEDED, details)
            for counter in self.counters(sid):
                free[counter] -= quantity
        return None

    # -- expectations: a Refusal, or what success returns ------------------------------

    def create_schedule(
        self, schedule_id: str, capacity: int, pools: tuple[str, ...] = ()
    ) -> Refusal | Schedule:
        """A pool with pools (``VALIDATION_ERROR``), an unknown pool, an existing id; or it.

        An unknown pool is ``SCHEDULE_NOT_FOUND`` naming the first one, in sorted order.
        """
        if any(self.pools.get(pool) for pool in pools):
            return Refusal(ErrorCode.VALIDATION_ERROR, fields=frozenset({"pools"}))
        for pool in sorted(pools):
            if refusal := self._unknown_schedule(pool):
                return refusal
        if schedule_id in self.capacities:
            return Refusal(ErrorCode.SCHEDULE_ALREADY_EXISTS)
        return Schedule(schedule_id, capacity, 0, tuple(sorted(pools)))

    def get_schedule(self, schedule_id: str) -> Refusal | Schedule:
        """``SCHEDULE_NOT_FOUND``, or the schedule."""
        return self._unknown_schedule(schedule_id) or self.schedule(schedule_id)

    def change_capacity(self, schedule_id: str, capacity: int) -> Refusal | Schedule:
        """``SCHEDULE_NOT_FOUND``, ``CAPACITY_BELOW_RESERVED``, or the changed schedule."""
        if refusal := self._unknown_schedule(schedule_id):
            return refusal
        if capacity < self.reserved(schedule_id):
            return Refusal(ErrorCode.CAPACITY_BELOW_RESERVED)
        return dataclasses.replace(self.schedule(schedule_id), capacity=capacity)

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
        if isinstance(used, KeyUse) and used == KeyUse(
            schedule_id, quantity, used.reservation_id, hold
        ):
            return self.reservations[used.reservation_id]
        if used is not None:
            return Refusal(ErrorCode.IDEMPOTENCY_KEY_REUSED)
        refused = self._first_refused_line(user_id, [(schedule_id, quantity)], now)
        return NEW if refused is None else refused[1]

    def create_order(
        self,
        user_id: str,
        lines: list[tuple[str, int]],
        key: str | None,
        hold_for: timedelta | None,
        *,
        now: datetime,
    ) -> Refusal | tuple[Reservation, ...] | str:
        """A refusal, the replayed order's lines as they are now, or :data:`NEW`.

        All lines or none: the refusal is the one the first refused line (in the order
        given) would meet on its own, with ``details["line"]`` its index. A stored key
        replays the same request (lines, in order, and ``hold_for``), and refuses another
        with ``IDEMPOTENCY_KEY_REUSED``, unless one of its lines' schedules does not exist.
        """
        used = None if key is None else self.keys.get((user_id, key))
        refused = None
        if isinstance(used, OrderKeyUse) and (used.lines, used.hold_for) == (
            tuple(lines),
            hold_for,
        ):
            return self.order(used.order_id)
        if used is not None:  # "not found" outranks the key's reuse
            refused = next(
                (
                    (index, refusal)
                    for index, (sid, _) in enumerate(lines)
                    if (refusal := self._unknown_schedule(sid))
                ),
                None,
            )
            if refused is None:
                return Refusal(ErrorCode.IDEMPOTENCY_KEY_REUSED)
        refused = refused or self._first_refused_line(user_id, lines, now)
        if refused is None:
            return NEW
        index, refusal = refused
        return dataclasses.replace(refusal, details={**refusal.details, "line": index})

    def order(self, order_id: str) -> tuple[Reservation, ...]:
        """The order's lines as last recorded, in the order given."""
        return tuple(self.reservations[rid] for rid in self.orders[order_id])

    def get_order(self, order_id: str, user_id: str | None) -> Refusal | tuple[Reservation, ...]:
        """``ORDER_NOT_FOUND`` (unknown, or not ``user_id``'s), or the order's lines."""
        if order_id not in self.orders or user_id not in (None, self.order(order_id)[0].user_id):
            return Refusal(ErrorCode.ORDER_NOT_FOUND, {"order_id": order_id})
        return self.order(order_id)

    def confirm_order(
        self, order_id: str, user_id: str | None, *, now: datetime
    ) -> Refusal | set[str]:
        """Not found, a refusal, or the ids of the lines that become ``CONFIRMED``.

        A cancelled or refunded line refuses it first (as confirming that line would);
        then a lapsed or expired line: ``HOLD_EXPIRED``, and every held line expires.
        """
        found = self.get_order(order_id, user_id)
        if isinstance(found, Refusal):
            return found
        for line in found:
            outcome = TRANSITIONS[Action.CONFIRM][line.status]
            if line.status is not ReservationStatus.EXPIRED and isinstance(outcome, ErrorCode):
                return Refusal(outcome)
        if any(line.status is ReservationStatus.EXPIRED or lapsed(line, now) for line in found):
            return Refusal(ErrorCode.HOLD_EXPIRED, {"order_id": order_id})
        return {line.id for line in found if line.status is ReservationStatus.HELD}

    def cancel_order(self, order_id: str, user_id: str | None) -> Refusal | set[str]:
        """Not found, the first line's refusal when none is active, or the lines cancelled."""
        found = self.get_order(order_id, user_id)
        if isinstance(found, Refusal):
            return found
        active = {line.id for line in found if line.status in ACTIVE}
        if active:
            return active
        outcome = TRANSITIONS[Action.CANCEL][found[0].status]
        return Refusal(outcome) if isinstance(outcome, ErrorCode) else set()

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

    def remaining(self, counter: str) -> int:
        """A counter's free seats as recorded (a lapsed hold not yet expired still counts)."""
        return self.capacities[counter] - self.reserved(counter)

    def busy(self, schedule_id: str, user_id: str) -> bool:
        """Whether the user holds a recorded ``HELD`` or ``CONFIRMED`` reservation there."""
        return any(
            (r.schedule_id, r.user_id) == (schedule_id, user_id) and r.status in ACTIVE
            for r in self.reservations.values()
        )

    def change_quantity(
        self, reservation_id: str, quantity: int, user_id: str | None, *, now: datetime
    ) -> Refusal | Reservation | int:
        """Not found, ``HOLD_EXPIRED`` (lapsed), ``INVALID_STATE_TRANSITION``, capacity short.

        Else the change in seats (``0``: the reservation returned unchanged). Growing
        needs the extra seats free in the schedule and each of its pools (as recorded:
        nothing expires first); ``CAPACITY_EXCEEDED`` names the extra seats.
        """
        found = self.get_reservation(reservation_id, user_id)
        if isinstance(found, Refusal):
            return found
        if lapsed(found, now):
            return Refusal(ErrorCode.HOLD_EXPIRED, {"reservation_id": found.id})
        if found.status not in ACTIVE:
            return Refusal(ErrorCode.INVALID_STATE_TRANSITION)
        change = quantity - found.quantity
        for counter in self.counters(found.schedule_id) if change > 0 else ():
            if change > self.remaining(counter):
                details: dict[str, object] = {
                    "requested": change,
                    "remaining": self.remaining(counter),
                }
                if self.pools[found.schedule_id]:
                    details["schedule_id"] = counter
                return Refusal(ErrorCode.CAPACITY_EXCEEDED, details)
        return change if change else found

    def join_waitlist(
        self, schedule_id: str, user_id: str, quantity: int, *, now: datetime
    ) -> Refusal | None:
        """Not found, ``DUPLICATE_WAITLIST_ENTRY`` (first), ``DUPLICATE_RESERVATION``; or joins.

        A lapsed hold of the user there is no duplicate (the join expires it first).
        """
        if refusal := self._unknown_schedule(schedule_id):
            return refusal
        if entry := self.waitlists.active_entry(schedule_id, user_id):
            return Refusal(ErrorCode.DUPLICATE_WAITLIST_ENTRY, {"entry_id": entry.id})
        if held := self._active_of(schedule_id, user_id, now):
            return Refusal(ErrorCode.DUPLICATE_RESERVATION, {"reservation_id": held.id})
        return None

    # -- recording what the service did ----------------------------------------------------

    def set_capacity(self, schedule_id: str, capacity: int) -> None:
        """Record a changed capacity."""
        self.capacities[schedule_id] = capacity

    def add_schedule(self, schedule: Schedule) -> None:
        """Record a created schedule."""
        self.capacities[schedule.id] = schedule.capacity
        self.pools[schedule.id] = schedule.pools

    def record(
        self, reservation: Reservation, key: str | None = None, *, hold: bool = False
    ) -> None:
        """Record a reservation as the service last returned it (and the key that made it)."""
        self.reservations[reservation.id] = reservation
        self.waitlists.settle(reservation)
        if key is not None:
            self.keys.setdefault(
                (reservation.user_id, key),
                KeyUse(reservation.schedule_id, reservation.quantity, reservation.id, hold),
            )

    def record_order(
        self, lines: tuple[Reservation, ...], key: str | None, hold_for: timedelta | None
    ) -> None:
        """Record an order as the service returned it (and the key that made it)."""
        for line in lines:
            self.record(line)
        order_id = lines[0].order_id or ""
        self.orders[order_id] = tuple(line.id for line in lines)
        if key is not None:
            self.keys.setdefault(
                (lines[0].user_id, key),
                OrderKeyUse(tuple((r.schedule_id, r.quantity) for r in lines), hold_for, order_id),
            )

    def lapsed_holds(self, now: datetime, schedule_id: str | None = None) -> list[Reservation]:
        """The recorded holds that have lapsed at ``now`` (of one schedule, or all)."""
        return [
            r
            for r in self.reservations.values()
            if lapsed(r, now) and schedule_id in (None, r.schedule_id)
        ]
