"""Hypothesis-chosen plans run by threads at once, then checked against the contract.

Threads released together by a barrier each run their own plan of bookings, holds,
confirms, cancels, refunds and capacity changes on the same few schedules. No interleaving
is predicted; instead every outcome must be explainable: each reservation ends in the
status its successful moves lead to (at most one of them returns its seats), every refused
move names a status the reservation was in, and the seats add up. Never a sleep.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from reservation_core import (
    BusinessException,
    ErrorCode,
    Reservation,
    ReservationService,
    ReservationStatus,
    Schedule,
)
from reservation_core.domain import TRANSITIONS, Action
from tests.backends import Backend
from tests.concurrency.race import race
from tests.stateful.soak import soak_marks, stateful_settings

THREADS = 4
SCHEDULES = 2
CAPACITY = 4
SEEDS_PER_SCHEDULE = 2
HOLD_FOR = timedelta(hours=1)  # no hold lapses during a run

pytestmark = soak_marks()


@dataclasses.dataclass(frozen=True)
class Op:
    """One step of a thread's plan; each kind reads the fields it needs."""

    kind: str  # "reserve", "hold", "capacity", or an Action ("confirm", "cancel", "refund")
    schedule: int
    user: int
    quantity: int
    key: int | None
    target: int  # which reservation a cancel/refund aims at, among those the thread knows
    capacity: int


@dataclasses.dataclass(frozen=True)
class Event:
    """What one step did: its arguments, resolved, and the result or the refusal."""

    op: Op
    schedule_id: str
    user_id: str
    key: str | None
    reservation_id: str | None
    outcome: Reservation | Schedule | BusinessException

    @property
    def ok(self) -> bool:
        return not isinstance(self.outcome, BusinessException)


OPS = st.builds(
    Op,
    kind=st.sampled_from(
        ["reserve", "hold", "capacity", Action.CONFIRM, Action.CANCEL, Action.REFUND]
    ),
    schedule=st.integers(0, SCHEDULES - 1),
    user=st.integers(0, 3),
    quantity=st.integers(1, 2),
    key=st.none() | st.integers(0, 2),
    target=st.integers(0, 15),
    capacity=st.integers(0, 8),
)
PLANS = st.lists(st.lists(OPS, min_size=1, max_size=8), min_size=THREADS, max_size=THREADS)


@dataclasses.dataclass
class Run:
    """One example: fresh schedules and seed reservations on a shared service."""

    service: ReservationService
    prefix: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex[:10])
    seeded: list[Reservation] = dataclasses.field(default_factory=list)

    @property
    def schedule_ids(self) -> list[str]:
        return [f"{self.prefix}:s{n}" for n in range(SCHEDULES)]

    def seed(self) -> None:
        for sid in self.schedule_ids:
            self.service.create_schedule(sid, CAPACITY)
            self.seeded += [
                self.service.create_reservation(sid, f"{self.prefix}:seed{n}")
                for n in range(SEEDS_PER_SCHEDULE)
            ]
            self.seeded.append(
                self.service.hold_reservation(sid, f"{self.prefix}:held", hold_for=HOLD_FOR)
            )

    def perform(self, plan: Sequence[Op]) -> list[Event]:
        """Run one thread's plan; its moves aim at the seeds and at its own reservations."""
        known = [r.id for r in self.seeded]
        events = []
        for op in plan:
            sid = self.schedule_ids[op.schedule]
            uid = f"{self.prefix}:u{op.user}"
            key = None if op.key is None else f"k{op.key}"
            rid = known[op.target % len(known)] if op.kind in tuple(Action) else None
            outcome: Reservation | Schedule | BusinessException
            try:
                if op.kind == "reserve":
                    outcome = self.service.create_reservation(
                        sid, uid, quantity=op.quantity, idempotency_key=key
                    )
                    known.append(outcome.id)
                elif op.kind == "hold":
                    outcome = self.service.hold_reservation(
                        sid, uid, quantity=op.quantity, hold_for=HOLD_FOR, idempotency_key=key
                    )
                    known.append(outcome.id)
                elif op.kind == "capacity":
                    outcome = self.service.change_capacity(sid, op.capacity)
                elif op.kind == Action.CONFIRM:
                    outcome = self.service.confirm_reservation(rid)
                elif op.kind == Action.CANCEL:
                    outcome = self.service.cancel_reservation(rid)
                else:
                    outcome = self.service.refund_reservation(rid)
            except BusinessException as exc:
                outcome = exc
            events.append(Event(op, sid, uid, key, rid, outcome))
        return events


def check_reservations(run: Run, events: list[Event]) -> dict[str, Reservation]:
    """Every reservation's final status is where its successful moves lead.

    No hold lapses during a run, so a reservation goes HELD → CONFIRMED (confirm; again
    and again, a no-op) and then at most once to CANCELLED or REFUNDED.
    """
    made = [e.outcome for e in events if e.op.kind in ("reserve", "hold") and e.ok]
    first = {r.id: r for r in [*run.seeded, *made]}
    final = {rid: run.service.get_reservation(rid) for rid in first}
    moves = defaultdict(list)
    for e in events:
        if e.reservation_id is not None:
            moves[e.reservation_id].append(e)
    for rid, now in final.items():
        won = [e for e in moves[rid] if e.ok]
        for e in won:  # each success answers the status its move leads to
            assert e.outcome.status is TRANSITIONS[Action(e.op.kind)][ReservationStatus.CONFIRMED]
        ended = [e for e in won if e.op.kind != Action.CONFIRM]
        assert len(ended) <= 1, f"{rid} released its seats twice: {ended}"
        confirmed = first[rid].status is ReservationStatus.CONFIRMED or any(
            e.op.kind == Action.CONFIRM for e in won
        )
        if ended:
            expected = ended[0].outcome.status
            assert ended[0].outcome == now, (ended[0].outcome, now)  # nothing moves it after
        else:
            expected = ReservationStatus.CONFIRMED if confirmed else ReservationStatus.HELD
        assert now.status is expected, (now, moves[rid])
        if any(e.op.kind == Action.REFUND for e in ended):
            assert confirmed, f"{rid} refunded without being confirmed: {moves[rid]}"
        passed = {first[rid].status, now.status} | (
            {ReservationStatus.CONFIRMED} if confirmed else set()
        )
        for e in moves[rid]:
            if not e.ok:  # refused for a status the reservation was in
                codes = {TRANSITIONS[Action(e.op.kind)][status] for status in passed}
                assert e.outcome.code in codes, (e, passed)
    return final


def check_creates(events: list[Event], final: dict[str, Reservation]) -> None:
    """Creates made what was asked, refused for a reason, and keys made one reservation each."""
    by_key: dict[tuple[str, str], set[tuple[str, str, int]]] = defaultdict(set)
    for e in events:
        if e.op.kind not in ("reserve", "hold"):
            continue
        if not e.ok:
            assert e.outcome.code in {
                ErrorCode.CAPACITY_EXCEEDED,
                ErrorCode.DUPLICATE_RESERVATION,
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
            }, e
            if e.outcome.code is ErrorCode.DUPLICATE_RESERVATION:
                assert e.outcome.details["reservation_id"] in final, e
            continue
        made = e.outcome
        assert (made.schedule_id, made.user_id, made.quantity) == (
            e.schedule_id,
            e.user_id,
            e.op.quantity,
        )
        if e.key is not None:
            by_key[(e.user_id, e.key)].add((made.id, made.schedule_id, made.quantity))
        else:  # new, so as asked (a keyed replay may answer a hold confirmed since)
            kind = ReservationStatus.HELD if e.op.kind == "hold" else ReservationStatus.CONFIRMED
            assert made.status is kind, e
    for key, made in by_key.items():
        assert len(made) == 1, f"idempotency key {key} made {made}"


def check_schedules(run: Run, events: list[Event], final: dict[str, Reservation]) -> None:
    """The invariant, and capacities that some successful call actually set."""
    holders: set[tuple[str, str]] = set()
    for r in final.values():
        if r.status.holds_seats:
            assert (r.schedule_id, r.user_id) not in holders, f"two active for {r.user_id}"
            holders.add((r.schedule_id, r.user_id))
    for sid in run.schedule_ids:
        schedule = run.service.get_schedule(sid)
        active = sum(
            r.quantity for r in final.values() if r.schedule_id == sid and r.status.holds_seats
        )
        assert schedule.reserved == active, (schedule, active)
        assert 0 <= schedule.reserved <= schedule.capacity, schedule
        set_to = {CAPACITY} | {
            e.op.capacity
            for e in events
            if e.op.kind == "capacity" and e.schedule_id == sid and e.ok
        }
        assert schedule.capacity in set_to, (schedule, set_to)
    for e in events:
        if e.op.kind == "capacity" and not e.ok:
            assert e.outcome.code is ErrorCode.CAPACITY_BELOW_RESERVED, e


def test_concurrent_plans_keep_the_contract(backend: Backend) -> None:
    service = backend.service()

    # @given on an inner function: the backend fixture is shared across examples on purpose
    # (a database is not reset between them; fresh ids keep the examples apart).
    @stateful_settings(backend.name, max_examples=25)
    @given(plans=PLANS)
    def run_plans(plans: list[list[Op]]) -> None:
        run = Run(service)
        run.seed()
        events = [e for thread in race([lambda p=p: run.perform(p) for p in plans]) for e in thread]
        final = check_reservations(run, events)
        check_creates(events, final)
        check_schedules(run, events, final)

    run_plans()
