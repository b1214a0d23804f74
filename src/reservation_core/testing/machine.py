"""A Hypothesis state machine that holds a reservation service to the contract.

:func:`build_state_machine` wires it to a service; Hypothesis then drives random sequences of
every use case, with valid and invalid arguments, and compares each answer with a pure model.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from reservation_core.async_service import AsyncReservationService
from reservation_core.domain import (
    Action,
    OrderLine,
    Reservation,
    ReservationStatus,
    Schedule,
    WaitlistEntry,
    WaitlistStatus,
)
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.service import ReservationService
from reservation_core.testing._arguments import (
    AS_USER,
    CAPACITY,
    ENTRY,
    HOLD_FOR,
    KEY,
    LINES,
    NEW_SCHEDULE,
    OFFER_FOR,
    ORDER,
    ORDER_HOLD_FOR,
    POOLS,
    PREFIX_LENGTH,
    QUANTITY,
    RESERVATION,
    SCHEDULE,
    SCHEDULE_TAILS,
    STATUS,
    USER,
    Exact,
    FakeClock,
    Known,
    Line,
    Owner,
    Pool,
    Ref,
    Span,
)
from reservation_core.testing._blocking import BlockingService
from reservation_core.testing._model import (
    ACTIVE,
    NEW,
    KeyUse,
    Model,
    Refusal,
    invalid_fields,
    is_valid_lines,
    is_valid_pools,
    lapsed,
)

__all__ = ["build_state_machine"]

T = TypeVar("T")


def _require(condition: bool, message: str) -> None:
    # Not ``assert``: the checks must hold under ``python -O`` too.
    if not condition:
        raise AssertionError(message)


def _is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _has_reservations(machine: _ReservationMachine) -> bool:
    return bool(machine.model.reservations)


def _has_orders(machine: _ReservationMachine) -> bool:
    return bool(machine.model.orders)


def _has_entries(machine: _ReservationMachine) -> bool:
    return bool(machine.model.waitlists.waiters)


def _has_idempotency_keys(machine: _ReservationMachine) -> bool:
    return bool(machine.model.keys)


def _has_clock(machine: _ReservationMachine) -> bool:
    return machine.clock is not None


AnyService = ReservationService | AsyncReservationService


def _accepts_clock(make_service: Callable[..., AnyService]) -> bool:
    """Whether ``make_service`` takes a ``clock=`` keyword (or any keyword)."""
    try:
        parameters = inspect.signature(make_service).parameters.values()
    except (TypeError, ValueError):  # some callables have no signature to read
        return False
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == "clock" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        for p in parameters
    )


class _ReservationMachine(RuleBasedStateMachine):
    """The rules and invariants; :func:`build_state_machine` supplies the service."""

    def __init__(self) -> None:
        super().__init__()
        self.clock: FakeClock | None = FakeClock() if self._clocked() else None
        self.service = self._new_service()
        self.model = Model()
        self.prefix = f"{uuid.uuid4().hex[: PREFIX_LENGTH - 1]}:"

    def _clocked(self) -> bool:
        raise NotImplementedError

    def _new_service(self) -> ReservationService | BlockingService:
        raise NotImplementedError

    def _now(self) -> datetime:
        """The service's time: the machine's clock, or the real one (holds never lapse then)."""
        return self.clock.now if self.clock is not None else datetime.now(UTC)

    def _hold_for(self, drawn: Span | Exact) -> Any:
        if isinstance(drawn, Exact):
            return drawn.value
        return timedelta(minutes=drawn.n) if self.clock is not None else timedelta(hours=drawn.n)

    # -- lapsed holds: HELD until something expires them, then EXPIRED ---------------------

    def _observe(self, reservation_id: str) -> Reservation:
        """Read a recorded reservation; it must be as recorded, or a lapsed hold expired."""
        seen: Reservation = self._succeeds(
            functools.partial(self.service.get_reservation, reservation_id)
        )
        before = self.model.reservations[reservation_id]
        if seen != before:
            expired = dataclasses.replace(
                before, status=ReservationStatus.EXPIRED, updated_at=seen.updated_at
            )
            _require(
                lapsed(before, self._now()) and seen == expired,
                f"got {seen!r}, expected {before!r} (or, were it a lapsed hold, it EXPIRED)",
            )
            _require(
                before.expires_at is not None and seen.updated_at >= before.expires_at,
                f"{seen!r} expired before its expires_at",
            )
            self.model.record(seen)
        return seen

    def _sync(self, schedule_id: Any = None, *, every: bool = False) -> None:
        """Observe the lapsed holds of a schedule (or, with ``every``, of all schedules)."""
        if not every and (type(schedule_id) is not str or schedule_id not in self.model.capacities):
            return
        # A booking counts with the reservations of its pools and their other schedules.
        related = None if every else self.model.related(schedule_id)
        for hold in self.model.lapsed_holds(self._now()):
            if related is None or hold.schedule_id in related:
                self._observe(hold.id)

    def _require_expired(self, holds: list[Reservation]) -> None:
        for hold in holds:
            seen = self._observe(hold.id)
            _require(seen.status is ReservationStatus.EXPIRED, f"{seen!r} lapsed, yet not EXPIRED")

    # -- turning drawn arguments into call arguments (Any: some are ill-typed on purpose) --

    def _resolve(self, ref: Ref) -> Any:
        if isinstance(ref, str):
            return self.prefix + ref
        if isinstance(ref, Exact):
            return ref.value
        _require(ref is None, f"unexpected argument {ref!r}")
        return None

    def _schedule_id(self, ref: Ref) -> Any:
        known = list(self.model.capacities)
        if isinstance(ref, Known):
            return known[ref.index % len(known)] if known else self._resolve("a")
        return self._resolve(ref)

    def _pools(self, drawn: list[Ref | Pool] | Exact) -> Any:
        if isinstance(drawn, Exact):
            return drawn.value
        unpooled = [sid for sid, pools in self.model.pools.items() if not pools]
        return [
            (unpooled[ref.index % len(unpooled)] if unpooled else self._resolve("a"))
            if isinstance(ref, Pool)
            else self._schedule_id(ref)
            for ref in drawn
        ]

    def _lines(self, drawn: list[Line] | Exact) -> Any:
        """``OrderLine`` s; ``Known`` schedules picked among those no earlier line took."""
        if isinstance(drawn, Exact):
            return drawn.value
        lines: list[OrderLine] = []
        for line in drawn:
            sid = self._schedule_id(line.schedule)
            if isinstance(line.schedule, Known):
                taken = {existing.schedule_id for existing in lines}
                free = [known for known in self.model.capacities if known not in taken]
                if not free:
                    continue
                sid = free[line.schedule.index % len(free)]
            lines.append(OrderLine(sid, line.quantity))  # type: ignore[arg-type]
        return lines

    def _known_id(self, known: list[str], ref: Ref) -> Any:
        """A ``Known`` one of ``known`` (an unknown UUID if none), or the drawn argument."""
        if isinstance(ref, Known):
            return known[ref.index % len(known)] if known else str(uuid.uuid4())
        return self._resolve(ref)

    def _order_id(self, ref: Ref) -> Any:
        return self._known_id(list(self.model.orders), ref)

    def _reservation_id(self, ref: Ref) -> Any:
        return self._known_id(list(self.model.reservations), ref)

    def _user_for(self, reservation_id: Any, ref: Ref) -> Any:
        if not isinstance(ref, Owner):
            return self._resolve(ref)
        held = self.model.reservations.get(reservation_id) if type(reservation_id) is str else None
        return held.user_id if held is not None else self._resolve("alice")

    def _order_user(self, order_id: Any, ref: Ref) -> Any:
        lines = self.model.orders.get(order_id) if type(order_id) is str else None
        return self._user_for(lines[0] if lines else None, ref)

    # -- checking answers ------------------------------------------------------------------

    @staticmethod
    def _refused(expected: Refusal, call: Callable[[], object]) -> None:
        try:
            result = call()
        except BusinessException as exc:
            _require(exc.code is expected.code, f"expected {expected.code}, got {exc!r}")
            if expected.fields:
                field = exc.details.get("field")
                _require(field in expected.fields, f"{exc!r} names {field!r}, not the bad one")
            for name, value in expected.details.items():
                got = exc.details.get(name)
                _require(got == value, f"{exc!r}: details[{name!r}] should be {value!r}")
            return
        raise AssertionError(f"expected {expected.code}, got {result!r}")

    @staticmethod
    def _succeeds(call: Callable[[], T]) -> T:
        try:
            return call()
        except BusinessException as exc:
            raise AssertionError(f"expected success, got {exc!r}") from exc

    @staticmethod
    def _same(result: object, expected: object) -> None:
        _require(result == expected, f"got {result!r}, expected {expected!r}")

    def _answers(self, expected: object, call: Callable[[], object]) -> bool:
        """Whether ``call`` succeeded; it must refuse as a Refusal says, or return ``expected``."""
        if isinstance(expected, Refusal):
            self._refused(expected, call)
            return False
        self._same(self._succeeds(call), expected)
        return True

    # -- schedules -------------------------------------------------------------------------

    @initialize(schedule=SCHEDULE_TAILS, capacity=st.integers(1, 8))
    def first_schedule(self, schedule: str, capacity: int) -> None:
        """Start with a schedule, so that reservations have somewhere to go."""
        self.create_schedule(schedule, capacity, [])

    @initialize(
        room=st.integers(1, 8), capacities=st.lists(st.integers(0, 8), min_size=2, max_size=2)
    )
    def shared_pool(self, room: int, capacities: list[int]) -> None:
        """Start with a pool too, and two schedules that count against it (and on their own)."""
        self.create_schedule("room", room, [])
        for n, capacity in enumerate(capacities):
            self.create_schedule(f"w{n}", capacity, ["room"])

    @rule(schedule=NEW_SCHEDULE, capacity=CAPACITY, pools=POOLS)
    def create_schedule(
        self, schedule: Ref, capacity: Any, pools: list[Ref | Pool] | Exact
    ) -> None:
        """Create a schedule, with or without pools (sometimes one that exists, or bad ones)."""
        sid = self._resolve(schedule)
        pool_ids = self._pools(pools)
        expected = invalid_fields(
            {"schedule_id": sid},
            counts={"capacity": (capacity, 0)},
            others={"pools": is_valid_pools(sid, pool_ids)},
        ) or self.model.create_schedule(sid, capacity, tuple(pool_ids))

        def call() -> object:
            if pool_ids == []:  # the default
                return self.service.create_schedule(sid, capacity)
            return self.service.create_schedule(sid, capacity, pools=pool_ids)

        if self._answers(expected, call) and isinstance(expected, Schedule):
            self.model.add_schedule(expected)

    @rule(schedule=SCHEDULE)
    def get_schedule(self, schedule: Ref) -> None:
        """Read a schedule."""
        sid = self._schedule_id(schedule)
        self._sync(sid)
        expected = invalid_fields({"schedule_id": sid}) or self.model.get_schedule(sid)
        self._answers(expected, lambda: self.service.get_schedule(sid))

    @rule(schedule=SCHEDULE, capacity=CAPACITY)
    def change_capacity(self, schedule: Ref, capacity: Any) -> None:
        """Grow or shrink a schedule, sometimes under its reserved seats."""
        sid = self._schedule_id(schedule)
        self._sync(sid)
        expected = invalid_fields(
            {"schedule_id": sid}, counts={"capacity": (capacity, 0)}
        ) or self.model.change_capacity(sid, capacity)
        grows = isinstance(expected, Schedule) and capacity > self.model.capacities[sid]
        if isinstance(expected, Schedule) and grows:  # the list first, in that transaction
            self.model.set_capacity(sid, capacity)
            offers = self.model.waitlists.offer_plan(
                sid,
                self.model.counters(sid),
                self.model.remaining,
                functools.partial(self.model.busy, sid),
            )
            taken = sum(w.entry.quantity for w in offers)
            expected = dataclasses.replace(expected, reserved=expected.reserved + taken)
        if self._answers(expected, lambda: self.service.change_capacity(sid, capacity)):
            self.model.set_capacity(sid, capacity)
            if grows:
                self._offers(sid)

    # -- reservations ----------------------------------------------------------------------

    @rule(schedule=SCHEDULE, user=USER, quantity=QUANTITY, key=KEY)
    def create_reservation(self, schedule: Ref, user: Ref, quantity: Any, key: Ref) -> None:
        """Reserve, with or without an idempotency key (replays and reuses included)."""
        self._reserve(
            self._schedule_id(schedule), self._resolve(user), quantity, self._resolve(key)
        )

    @rule(schedule=SCHEDULE, user=USER, quantity=QUANTITY, hold_for=HOLD_FOR, key=KEY)
    def hold_reservation(
        self, schedule: Ref, user: Ref, quantity: Any, hold_for: Span | Exact, key: Ref
    ) -> None:
        """Hold seats for a while, with or without an idempotency key."""
        self._reserve(
            self._schedule_id(schedule),
            self._resolve(user),
            quantity,
            self._resolve(key),
            hold_for=self._hold_for(hold_for),
            hold=True,
        )

    @precondition(_has_idempotency_keys)
    @rule(pick=st.integers(0, 15), change=st.sampled_from(["none", "quantity", "kind", "call"]))
    def retry_keyed_request(self, pick: int, change: str) -> None:
        """Send a keyed request again, as a client retries (or reuse its key for another).

        ``change``: the same request, another quantity, a hold for a booking (or the
        reverse), or the other call (an order for a booking's key, or the reverse).
        """
        (uid, key_id), use = list(self.model.keys.items())[pick % len(self.model.keys)]
        more = int(change == "quantity")
        if isinstance(use, KeyUse) and change != "call":
            hold = use.hold != (change == "kind")
            hold_for = self._hold_for(Span(10)) if hold else None
            quantity = use.quantity + more
            self._reserve(use.schedule_id, uid, quantity, key_id, hold_for=hold_for, hold=hold)
        elif isinstance(use, KeyUse):
            self._order(uid, [OrderLine(use.schedule_id, use.quantity)], key_id, None)
        elif change != "call":
            (first, quantity), *rest = use.lines
            lines = [OrderLine(sid, n) for sid, n in [(first, quantity + more), *rest]]
            hold_for = use.hold_for
            if change == "kind":
                hold_for = None if hold_for is not None else self._hold_for(Span(10))
            self._order(uid, lines, key_id, hold_for)
        else:
            self._reserve(use.lines[0][0], uid, use.lines[0][1], key_id)

    def _reserve(
        self,
        sid: Any,
        uid: Any,
        quantity: Any,
        key_id: Any,
        *,
        hold_for: Any = None,
        hold: bool = False,
    ) -> None:
        self._sync(sid)
        now = self._now()
        expected = invalid_fields(
            {"schedule_id": sid, "user_id": uid},
            optional_ids={"idempotency_key": key_id},
            counts={"quantity": (quantity, 1)},
            holds={"hold_for": hold_for} if hold else None,
        ) or self.model.create_reservation(sid, uid, quantity, key_id, now=now, hold=hold)
        own_lapsed = [
            r
            for r in self.model.lapsed_holds(now, sid if type(sid) is str else None)
            if r.user_id == uid
        ]

        def call() -> Reservation:
            if hold:
                return self.service.hold_reservation(
                    sid, uid, quantity=quantity, hold_for=hold_for, idempotency_key=key_id
                )
            return self.service.create_reservation(
                sid, uid, quantity=quantity, idempotency_key=key_id
            )

        if isinstance(expected, Refusal):
            return self._refused(expected, call)
        result = self._succeeds(call)
        if expected != NEW:  # a replay: the original reservation, as it is now
            _require(
                isinstance(expected, Reservation) and result.id == expected.id,
                f"replayed {result!r}, expected the reservation {expected!r}",
            )
            self._same(result, self._observe(result.id))
            return None
        status = ReservationStatus.HELD if hold else ReservationStatus.CONFIRMED
        _require(
            (result.schedule_id, result.user_id, result.quantity, result.status)
            == (sid, uid, quantity, status),
            f"{result!r} is not a {status} reservation of {quantity} on {sid!r} for {uid!r}",
        )
        _require(result.order_id is None, f"{result!r}: a single booking has no order_id")
        self._require_new(result, hold_for if hold else None)
        self.model.record(result, key_id, hold=hold)
        # The user's own lapsed hold there had to go for this one to be made.
        self._require_expired(own_lapsed)
        return None

    def _require_new(self, result: Reservation, hold_for: Any) -> None:
        """A reservation just made: a fresh UUID, UTC times, ``expires_at`` for a hold only."""
        _require(_is_uuid(result.id), f"reservation id {result.id!r} is not a UUID string")
        _require(result.id not in self.model.reservations, f"id {result.id!r} reused")
        _require(
            _is_utc(result.created_at) and result.updated_at >= result.created_at,
            f"{result!r}: timestamps must be UTC-aware, updated_at >= created_at",
        )
        if hold_for is not None:
            _require(
                result.expires_at is not None
                and _is_utc(result.expires_at)
                and result.expires_at - result.created_at == hold_for,
                f"{result!r}: expires_at must be created_at + hold_for ({hold_for})",
            )
        else:
            _require(result.expires_at is None, f"{result!r}: a booking has no expires_at")

    # -- orders ----------------------------------------------------------------------------

    @rule(user=USER, lines=LINES, key=KEY, hold_for=ORDER_HOLD_FOR)
    def create_order(
        self, user: Ref, lines: list[Line] | Exact, key: Ref, hold_for: Span | Exact | None
    ) -> None:
        """Book several schedules all or nothing, held or not, with or without a key."""
        self._order(
            self._resolve(user),
            self._lines(lines),
            self._resolve(key),
            None if hold_for is None else self._hold_for(hold_for),
        )

    def _order(self, uid: Any, lines: Any, key_id: Any, hold_for: Any) -> None:
        valid = is_valid_lines(lines)
        requested = [(line.schedule_id, line.quantity) for line in lines] if valid else []
        for sid, _ in requested:
            self._sync(sid)
        now = self._now()
        expected = invalid_fields(
            {"user_id": uid},
            optional_ids={"idempotency_key": key_id},
            holds=None if hold_for is None else {"hold_for": hold_for},
            others={"lines": valid},
        ) or self.model.create_order(uid, requested, key_id, hold_for, now=now)
        # The user's own lapsed holds on the lines' schedules had to go for it to be made
        # (others' lapse lazily: they expire only if the order would not fit otherwise).
        line_schedules = {sid for sid, _ in requested}
        lapsed_there = [
            r
            for r in self.model.lapsed_holds(now)
            if r.schedule_id in line_schedules and r.user_id == uid
        ]

        def call() -> tuple[Reservation, ...]:
            return self.service.create_order(uid, lines, idempotency_key=key_id, hold_for=hold_for)

        if isinstance(expected, Refusal):
            return self._refused(expected, call)
        result = self._succeeds(call)
        _require(type(result) is tuple, f"create_order returned {result!r}, not a tuple")
        if expected != NEW:  # a replay: the order's lines, as they are now
            self._same(result, expected)
            self._same(result, tuple(self._observe(line.id) for line in result))
            return None
        status = ReservationStatus.HELD if hold_for is not None else ReservationStatus.CONFIRMED
        self._same(
            [(r.schedule_id, r.user_id, r.quantity, r.status) for r in result],
            [(sid, uid, quantity, status) for sid, quantity in requested],
        )
        order_id = result[0].order_id
        _require(
            order_id is not None and _is_uuid(order_id) and order_id not in self.model.orders,
            f"order id {order_id!r} is not a fresh UUID string",
        )
        _require(
            len({(r.order_id, r.created_at, r.expires_at) for r in result}) == 1,
            f"the lines of an order share its order_id, created_at and expires_at: {result!r}",
        )
        for line in result:
            self._require_new(line, hold_for)
        self.model.record_order(result, key_id, hold_for)
        self._require_expired(lapsed_there)
        return None

    @precondition(_has_orders)
    @rule(order=ORDER, as_user=AS_USER)
    def get_order(self, order: Ref, as_user: Ref) -> None:
        """Read an order's lines, as anyone, the owner or another user."""
        oid = self._order_id(order)
        uid = self._order_user(oid, as_user)
        expected = invalid_fields(
            {"order_id": oid}, optional_ids={"user_id": uid}
        ) or self.model.get_order(oid, uid)
        self._answers(expected, lambda: self.service.get_order(oid, user_id=uid))

    @precondition(_has_orders)
    @rule(order=ORDER, as_user=AS_USER)
    def confirm_order(self, order: Ref, as_user: Ref) -> None:
        """Confirm an order's held lines, before or after the hold lapsed, as anyone."""
        self._move_order(Action.CONFIRM, order, as_user)

    @precondition(_has_orders)
    @rule(order=ORDER, as_user=AS_USER)
    def cancel_order(self, order: Ref, as_user: Ref) -> None:
        """Cancel an order's active lines, as anyone, the owner or another user."""
        self._move_order(Action.CANCEL, order, as_user)

    def _move_order(self, action: Action, order: Ref, as_user: Ref) -> None:
        oid = self._order_id(order)
        uid = self._order_user(oid, as_user)
        known = self.model.order(oid) if type(oid) is str and oid in self.model.orders else ()
        for line in known:
            self._sync(line.schedule_id)
        known = tuple(self.model.reservations[line.id] for line in known)
        invalid = invalid_fields({"order_id": oid}, optional_ids={"user_id": uid})
        expected: Refusal | set[str]
        if action is Action.CONFIRM:
            expected = invalid or self.model.confirm_order(oid, uid, now=self._now())
            method, status = self.service.confirm_order, ReservationStatus.CONFIRMED
        else:
            expected = invalid or self.model.cancel_order(oid, uid)
            method, status = self.service.cancel_order, ReservationStatus.CANCELLED

        def call() -> tuple[Reservation, ...]:
            return method(oid, user_id=uid)

        if isinstance(expected, Refusal):
            self._refused(expected, call)
            if expected.code is ErrorCode.HOLD_EXPIRED:  # committed, though the call raised
                self._require_expired([r for r in known if r.status is ReservationStatus.HELD])
            return
        result = self._succeeds(call)
        _require(len(result) == len(known), f"{result!r}: not the order's {len(known)} lines")
        self._same(
            result,
            tuple(
                dataclasses.replace(line, status=status, updated_at=moved.updated_at)
                if line.id in expected
                else line
                for line, moved in zip(known, result, strict=True)
            ),
        )
        for line in result:
            _require(_is_utc(line.updated_at), f"{line!r}: updated_at must be UTC-aware")
            self.model.record(line)
        if action is Action.CANCEL:  # the freed seats go to each list, in schedule id order
            for sid in sorted({line.schedule_id for line in known if line.id in expected}):
                self._offers(sid)

    def _move(
        self, action: Action, reservation: Ref, as_user: Ref, hold_for: timedelta = timedelta(0)
    ) -> None:
        rid = self._reservation_id(reservation)
        uid = self._user_for(rid, as_user)
        known = self.model.reservations.get(rid) if type(rid) is str else None
        if known is not None:
            self._sync(known.schedule_id)
        expected = invalid_fields(
            {"reservation_id": rid}, optional_ids={"user_id": uid}
        ) or self.model.move(action, rid, uid, now=self._now())
        method = {
            Action.CANCEL: self.service.cancel_reservation,
            Action.REFUND: self.service.refund_reservation,
            Action.CONFIRM: self.service.confirm_reservation,
            Action.EXTEND: functools.partial(self.service.extend_hold, hold_for=hold_for),
        }[action]

        def call() -> Reservation:
            return method(rid, user_id=uid)

        if isinstance(expected, Refusal):
            self._refused(expected, call)
            if expected.code is ErrorCode.HOLD_EXPIRED and known is not None:
                self._require_expired([known])  # committed, though the call raised
            return
        result = self._succeeds(call)
        before = self.model.reservations[rid]
        if action is Action.EXTEND:  # an extended hold: HELD still, a new deadline from now
            _require(
                result.expires_at == result.updated_at + hold_for,
                f"{result!r}: expires_at must be updated_at + hold_for ({hold_for})",
            )
            before = dataclasses.replace(before, expires_at=result.expires_at)
        elif before.status is expected:  # confirming a CONFIRMED reservation: unchanged
            self._same(result, before)
            return
        self._same(
            result, dataclasses.replace(before, status=expected, updated_at=result.updated_at)
        )
        _require(_is_utc(result.updated_at), f"{result!r}: updated_at must be UTC-aware")
        self.model.record(result)
        if action in (Action.CANCEL, Action.REFUND):
            self._offers(result.schedule_id)
        return

    @precondition(_has_reservations)
    @rule(reservation=RESERVATION, as_user=AS_USER)
    def confirm_reservation(self, reservation: Ref, as_user: Ref) -> None:
        """Confirm, before or after the hold lapsed, as anyone, the owner or another user."""
        self._move(Action.CONFIRM, reservation, as_user)

    @precondition(_has_reservations)
    @rule(reservation=RESERVATION, as_user=AS_USER, minutes=st.integers(1, 30))
    def extend_hold(self, reservation: Ref, as_user: Ref, minutes: int) -> None:
        """Extend, before or after the hold lapsed, as anyone, the owner or another user."""
        self._move(Action.EXTEND, reservation, as_user, timedelta(minutes=minutes))

    @precondition(_has_clock)
    @rule(minutes=st.integers(1, 20))
    def advance_clock(self, minutes: int) -> None:
        """Let time pass, so that holds lapse."""
        if self.clock is not None:
            self.clock.now += timedelta(minutes=minutes)
        # When a lazy expiry happens decides which entries are offered: where a list
        # waits behind a lapsed hold, the machine sweeps at once (so the model is exact).
        lists = {h.schedule_id for h in self.model.lapsed_holds(self._now())}
        if any(self.model.waitlists.on_the_list(sid) for sid in lists):
            self.release_expired_holds()

    @rule()
    def release_expired_holds(self) -> None:
        """Sweep: every lapsed hold becomes EXPIRED and returns its seats."""
        self._sync(every=True)
        lapsed_now = self.model.lapsed_holds(self._now())
        swept = self._succeeds(self.service.release_expired_holds)
        # At least ours: services over one shared database sweep other runs' holds too.
        _require(swept >= len(lapsed_now), f"swept {swept}, but {len(lapsed_now)} had lapsed")
        # One schedule at a time, in id order: its holds expire, then its list is offered.
        for sid in sorted({hold.schedule_id for hold in lapsed_now}):
            self._require_expired([hold for hold in lapsed_now if hold.schedule_id == sid])
            self._offers(sid)

    @rule(
        by=st.sampled_from(["schedule", "user", "both", "neither"]),
        schedule=SCHEDULE,
        user=USER,
        status=STATUS,
        limit=st.integers(1, 4),
    )
    def list_reservations(
        self, by: str, schedule: Ref, user: Ref, status: ReservationStatus | None, limit: int
    ) -> None:
        """Page through a schedule's or a user's reservations; every page joined is the list."""
        sid = self._schedule_id(schedule) if by in ("schedule", "both") else None
        uid = self._resolve(user) if by in ("user", "both") else None
        filters: dict[str, Any] = {"schedule_id": sid, "user_id": uid, "status": status}
        refusal = invalid_fields({}, optional_ids={"schedule_id": sid, "user_id": uid})
        if refusal is None and sid is None and uid is None:
            refusal = Refusal(ErrorCode.VALIDATION_ERROR, fields=frozenset({"schedule_id"}))
        if refusal is not None:
            return self._refused(
                refusal, lambda: self.service.list_reservations(**filters, limit=limit)
            )
        self._sync(every=True)
        listed: list[Reservation] = []
        cursor: str | None = None
        for _ in range(len(self.model.reservations) + 2):
            page = self._succeeds(
                functools.partial(
                    self.service.list_reservations, **filters, limit=limit, after=cursor
                )
            )
            _require(len(page.items) <= limit, f"{len(page.items)} items on a page of {limit}")
            listed.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        mine = [r for r in listed if r.id in self.model.reservations]
        expected = self.model.page(sid, uid, status)
        self._same(mine, expected)
        in_order = [(r.created_at, r.id) for r in listed]
        _require(
            in_order == sorted(set(in_order)), f"pages not in (created_at, id) order: {listed!r}"
        )
        return None

    @precondition(_has_reservations)
    @rule(reservation=RESERVATION, as_user=AS_USER)
    def cancel_reservation(self, reservation: Ref, as_user: Ref) -> None:
        """Cancel, as anyone, the owner or another user."""
        self._move(Action.CANCEL, reservation, as_user)

    @precondition(_has_reservations)
    @rule(reservation=RESERVATION, as_user=AS_USER)
    def refund_reservation(self, reservation: Ref, as_user: Ref) -> None:
        """Refund, as anyone, the owner or another user."""
        self._move(Action.REFUND, reservation, as_user)

    @precondition(_has_reservations)
    @rule(reservation=RESERVATION, as_user=AS_USER)
    def get_reservation(self, reservation: Ref, as_user: Ref) -> None:
        """Read a reservation, as anyone, the owner or another user."""
        rid = self._reservation_id(reservation)
        uid = self._user_for(rid, as_user)
        expected = invalid_fields(
            {"reservation_id": rid}, optional_ids={"user_id": uid}
        ) or self.model.get_reservation(rid, uid)
        self._answers(expected, lambda: self.service.get_reservation(rid, user_id=uid))

    # -- waiting lists and changes of quantity ---------------------------------------------

    def _offers(self, sid: str) -> None:
        """The seats just freed on ``sid`` went to its list, first fit, in that transaction."""
        model = self.model
        plan = model.waitlists.offer_plan(
            sid, model.counters(sid), model.remaining, functools.partial(model.busy, sid)
        )
        for waiter in plan:
            e = waiter.entry
            seen = self._succeeds(functools.partial(self.service.get_waitlist_entry, e.id))
            _require(
                seen.status is WaitlistStatus.OFFERED and seen.reservation_id is not None,
                f"{seen!r}: freed seats fit it, first in line, yet it was not OFFERED",
            )
            rid = seen.reservation_id or ""
            hold = self._succeeds(functools.partial(self.service.get_reservation, rid))
            at = hold.created_at
            self._same(
                hold,
                Reservation(
                    rid,
                    sid,
                    e.user_id,
                    e.quantity,
                    ReservationStatus.HELD,
                    at,
                    at,
                    at + waiter.offer_for,
                ),
            )
            _require(
                self.clock is None or at == self._now(),
                f"{hold!r}: an offer is made in the transaction that frees the seats",
            )
            _require(rid not in model.reservations, f"offer reuses the id {rid!r}")
            model.record(hold)
            model.waitlists.move(e.id, WaitlistStatus.OFFERED, at, rid)

    def _entry_id(self, ref: Ref) -> Any:
        return self._known_id(list(self.model.waitlists.waiters), ref)

    def _entry_user(self, eid: Any, ref: Ref) -> Any:
        if not isinstance(ref, Owner):
            return self._resolve(ref)
        waiter = self.model.waitlists.waiters.get(eid) if type(eid) is str else None
        return waiter.entry.user_id if waiter is not None else self._resolve("alice")

    def _entry_refusal(self, eid: Any, uid: Any) -> Refusal | None:
        invalid = invalid_fields({"entry_id": eid}, optional_ids={"user_id": uid})
        waiter = self.model.waitlists.waiters.get(eid) if type(eid) is str else None
        if invalid is None and (waiter is None or uid not in (None, waiter.entry.user_id)):
            return Refusal(ErrorCode.WAITLIST_ENTRY_NOT_FOUND, {"entry_id": eid})
        return invalid

    @rule(schedule=SCHEDULE, user=USER, quantity=QUANTITY, offer_for=OFFER_FOR)
    def join_waitlist(
        self, schedule: Ref, user: Ref, quantity: Any, offer_for: Span | Exact
    ) -> None:
        """Join a schedule's waiting list; offered at once if its seats are free now."""
        sid, uid, wait = self._schedule_id(schedule), self._resolve(user), self._hold_for(offer_for)
        self._sync(sid)
        now = self._now()
        expected = invalid_fields(
            {"schedule_id": sid, "user_id": uid},
            counts={"quantity": (quantity, 1)},
            holds={"offer_for": wait},
        ) or self.model.join_waitlist(sid, uid, quantity, now=now)

        def call() -> WaitlistEntry:
            return self.service.join_waitlist(sid, uid, quantity=quantity, offer_for=wait)

        if expected is not None:
            return self._refused(expected, call)
        joined = self._succeeds(call)
        self._require_expired(self.model.lapsed_holds(now, sid))  # the join expired them first
        at = joined.created_at
        _require(_is_uuid(joined.id) and joined.id not in self.model.waitlists.waiters, "id")
        _require(_is_utc(at) and (self.clock is None or at == now), f"{joined!r}: created_at")
        self.model.waitlists.add(
            WaitlistEntry(
                joined.id, sid, uid, quantity, WaitlistStatus.WAITING, None, None, at, at
            ),
            wait,
        )
        self._offers(sid)
        self._same(joined, self.model.waitlists.entry(joined.id))
        return None

    @precondition(_has_entries)
    @rule(entry=ENTRY, as_user=AS_USER)
    def leave_waitlist(self, entry: Ref, as_user: Ref) -> None:
        """Leave a list (an offer's hold is cancelled, its seats go on), as anyone."""
        eid = self._entry_id(entry)
        uid = self._entry_user(eid, as_user)
        waiter = self.model.waitlists.waiters.get(eid) if type(eid) is str else None
        expected = self._entry_refusal(eid, uid)
        if expected is None and waiter is not None and not waiter.entry.status.on_the_list:
            expected = Refusal(ErrorCode.INVALID_STATE_TRANSITION, {"entry_id": eid})

        def call() -> WaitlistEntry:
            return self.service.leave_waitlist(eid, user_id=uid)

        if expected is not None or waiter is None:
            return self._refused(expected or Refusal(ErrorCode.WAITLIST_ENTRY_NOT_FOUND), call)
        left = self._succeeds(call)
        offer = waiter.entry.reservation_id
        if offer is not None:  # its hold is cancelled, and the entry is LEFT with it
            cancelled = dataclasses.replace(
                self.model.reservations[offer],
                status=ReservationStatus.CANCELLED,
                updated_at=left.updated_at,
            )
            self._same(
                self._succeeds(functools.partial(self.service.get_reservation, offer)), cancelled
            )
            self.model.record(cancelled)
        else:
            self.model.waitlists.move(eid, WaitlistStatus.LEFT, left.updated_at, None)
        self._same(left, self.model.waitlists.entry(eid))
        self._offers(waiter.entry.schedule_id)
        return None

    @precondition(_has_entries)
    @rule(entry=ENTRY, as_user=AS_USER)
    def get_waitlist_entry(self, entry: Ref, as_user: Ref) -> None:
        """Read an entry (its live position), as anyone, the owner or another user."""
        eid = self._entry_id(entry)
        uid = self._entry_user(eid, as_user)
        expected = self._entry_refusal(eid, uid) or self.model.waitlists.entry(eid)
        self._answers(expected, lambda: self.service.get_waitlist_entry(eid, user_id=uid))

    @precondition(_has_reservations)
    @rule(reservation=RESERVATION, quantity=QUANTITY, as_user=AS_USER)
    def change_quantity(self, reservation: Ref, quantity: Any, as_user: Ref) -> None:
        """Grow or shrink a reservation (fewer seats go to the list), as anyone."""
        rid = self._reservation_id(reservation)
        uid = self._user_for(rid, as_user)
        known = self.model.reservations.get(rid) if type(rid) is str else None
        if known is not None:
            self._sync(known.schedule_id)
        expected = invalid_fields(
            {"reservation_id": rid},
            optional_ids={"user_id": uid},
            counts={"quantity": (quantity, 1)},
        ) or self.model.change_quantity(rid, quantity, uid, now=self._now())

        def call() -> Reservation:
            return self.service.change_quantity(rid, quantity, user_id=uid)

        if isinstance(expected, Refusal):
            self._refused(expected, call)
            if expected.code is ErrorCode.HOLD_EXPIRED and known is not None:
                self._require_expired([known])  # committed, though the call raised
            return None
        result = self._succeeds(call)
        if isinstance(expected, Reservation):  # the same quantity: unchanged
            return self._same(result, expected)
        before = self.model.reservations[rid]
        self._same(
            result, dataclasses.replace(before, quantity=quantity, updated_at=result.updated_at)
        )
        _require(_is_utc(result.updated_at), f"{result!r}: updated_at must be UTC-aware")
        self.model.record(result)
        if expected < 0:
            self._offers(result.schedule_id)
        return None

    # -- the invariant, observed through the public API only -------------------------------
    # For every schedule: reserved == Σ quantity of its HELD and CONFIRMED reservations (on
    # a pool: those on the pool itself and on every schedule that lists it), and
    # 0 <= reserved <= capacity (the documentation's consistency guarantees).

    @invariant()
    def seats_match_active_reservations(self) -> None:
        """``reserved == Σ quantity of HELD + CONFIRMED``, ``0 <= reserved <= capacity``."""
        # get_reservation(r.id) == r as last returned (or, for a lapsed hold, EXPIRED).
        observed = [self._observe(rid) for rid in list(self.model.reservations)]
        for sid in self.model.capacities:
            schedule = self._succeeds(functools.partial(self.service.get_schedule, sid))
            members = [x for x, pools in self.model.pools.items() if sid in pools]
            active = sum(
                r.quantity
                for r in observed
                if r.status in ACTIVE and (r.schedule_id == sid or r.schedule_id in members)
            )
            _require(
                schedule.reserved == active,
                f"{schedule!r}: reserved != {active}, the seats of its HELD and CONFIRMED "
                "reservations"
                + (f" and of those of {members!r}, which list it as a pool" if members else ""),
            )
            _require(0 <= schedule.reserved <= schedule.capacity, f"{schedule!r} overbooked")
            self._same(schedule, self.model.schedule(sid))
        for eid in self.model.waitlists.waiters:  # every entry as predicted, live position too
            entry = self._succeeds(functools.partial(self.service.get_waitlist_entry, eid))
            self._same(entry, self.model.waitlists.entry(eid))


def build_state_machine(
    make_service: Callable[..., AnyService],
) -> type[RuleBasedStateMachine]:
    """A Hypothesis state machine that checks services made by ``make_service``.

    Each run (Hypothesis example) calls ``make_service()`` once, then drives random
    sequences of ``create_schedule``, ``get_schedule``, ``change_capacity``,
    ``create_reservation`` and ``hold_reservation`` (with and without idempotency keys),
    ``confirm_reservation``, ``cancel_reservation``, ``refund_reservation``,
    ``get_reservation``, ``change_quantity``, ``join_waitlist``, ``leave_waitlist``,
    ``get_waitlist_entry``, ``release_expired_holds`` and ``list_reservations``: several
    users, ids at the edges (4-byte characters, exactly 64 characters, lookalikes such as
    ``"a"``/``"A"``/``"a "``), capacities from 0, ownership checks, invalid arguments. It
    compares every result and every error code, in the contract's precedence, with a pure
    model, and after every step checks ``reserved == Σ quantity of HELD + CONFIRMED`` and
    ``0 <= reserved <= capacity`` through the public API.

    If ``make_service`` takes a ``clock`` keyword argument (or ``**options``), each run
    calls ``make_service(clock=clock)`` with a clock of the machine's own, which starts at
    the real time and moves only when a rule lets minutes pass, so that holds lapse and
    expire. Otherwise holds last hours on the real clock and none lapses during a run.

    A mismatch raises :class:`AssertionError`; Hypothesis then shrinks it to a minimal
    sequence of calls.

    Every id the machine makes carries a prefix fresh to each run, so ``make_service`` may
    return services over one shared database that is never reset. The model assumes
    idempotency keys do not expire during a run (keep the service's ``idempotency_ttl``
    well above the run's duration).

    Args:
        make_service: a callable returning a ``ReservationService``, for example
            ``lambda: ReservationService(lambda: SqlAlchemyUnitOfWork(engine))``, or, to
            exercise expiry, ``lambda clock: ReservationService(..., clock=clock)``; or
            an ``AsyncReservationService``, which the machine awaits on an event loop of
            the kit's own, in a background thread (one for the whole process: give it an
            ``AsyncEngine`` no other event loop uses, or one with ``poolclass=NullPool``).

    Returns:
        A ``RuleBasedStateMachine`` subclass: run it with
        ``hypothesis.stateful.run_state_machine_as_test(Machine, settings=...)``, or
        collect its ``TestCase`` (set ``TestCase.settings`` to tune it).

    Examples:
        >>> from reservation_core import ReservationService
        >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
        >>> store = InMemoryStore()
        >>> Machine = build_state_machine(
        ...     lambda: ReservationService(lambda: InMemoryUnitOfWork(store))
        ... )
        >>> TestReservations = Machine.TestCase  # collected by pytest or unittest
    """
    clocked = _accepts_clock(make_service)

    class ReservationStateMachine(_ReservationMachine):
        def _clocked(self) -> bool:
            return clocked

        def _new_service(self) -> ReservationService | BlockingService:
            made = make_service() if self.clock is None else make_service(clock=self.clock)
            if isinstance(made, AsyncReservationService):
                return BlockingService(made)
            return made

    return ReservationStateMachine
