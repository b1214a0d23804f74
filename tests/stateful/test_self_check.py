"""The machine catches bugs: wired to deliberately broken services, it must fail.

Each mutant breaks one rule of the contract in a way a real adapter or service could. The
runs are derandomized, so they find the same failure every time; a control run with the
same settings on the correct service proves the failures are the mutants', not the
machine's.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from reservation_core import BusinessException, ErrorCode, ReservationService, ReservationStatus
from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from reservation_core.domain._waitlist import is_offer
from reservation_core.ports import AbstractUnitOfWork
from reservation_core.testing import build_state_machine

SELF_CHECK = settings(
    derandomize=True,
    database=None,
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    phases=[Phase.generate],  # finding the bug is the point; shrinking it only costs time
    report_multiple_bugs=False,
    print_blob=False,
)
#: The machine's exploration is the same on every run but depends on its step count: a
#: longer sequence reaches deeper states (a hold lapsed, then confirmed, then repeated;
#: among the lines of orders, more reservations to pick from).
RUNS = [SELF_CHECK, settings(SELF_CHECK, stateful_step_count=100)]


class _Delegate:
    """Everything as the wrapped repository does it, unless a subclass says otherwise."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _KeepsSeats(_Delegate):
    def release_seats(self, schedule_id: str, quantity: int) -> bool:
        """The bug: cancel and refund forget to give the seats back, and say they did."""
        return True


class _GrowsToFit(_Delegate):
    def __init__(self, inner: Any, schedules: Any) -> None:
        super().__init__(inner)
        self._schedules = schedules

    def add(self, reservation: Any) -> bool:
        """The bug: a full schedule grows instead of refusing."""
        schedule = self._schedules.get(reservation.schedule_id)
        if schedule is not None and schedule.remaining < reservation.quantity:
            self._schedules.set_capacity(schedule.id, schedule.reserved + reservation.quantity)
        return bool(self._inner.add(reservation))


class _ConfirmsLapsedHolds(_Delegate):
    def confirm_hold(self, reservation_id: str, at: datetime) -> bool:
        """The bug: confirm compares the status only, not the hold's expiry."""
        return bool(
            self._inner.try_transition(
                reservation_id, ReservationStatus.HELD, ReservationStatus.CONFIRMED, at
            )
        )


class _ExtendsLapsedHolds(_Delegate):
    def __init__(self, inner: Any, store: InMemoryStore) -> None:
        super().__init__(inner)
        self._store = store

    def extend_hold(self, reservation_id: str, at: datetime, expires_at: datetime) -> bool:
        """The bug: extend compares the status only, so a lapsed hold comes back to life."""
        current = self._store.reservations.get(reservation_id)
        if current is None or current.status is not ReservationStatus.HELD:
            return False
        lapsed = dataclasses.replace(current, expires_at=at + (expires_at - at) * 2)
        self._store.reservations[reservation_id] = lapsed  # unexpired now, as the bug sees it
        return bool(self._inner.extend_hold(reservation_id, at, expires_at))


class _ExpiresWithoutReturningSeats(_Delegate):
    def __init__(self, inner: Any, store: InMemoryStore) -> None:
        super().__init__(inner)
        self._store = store

    def expire_holds(self, schedule_id: str, at: datetime) -> int:
        """The bug: lapsed holds become EXPIRED, but their seats stay taken."""
        lapsed = [
            r.id
            for r in self._store.reservations.values()
            if r.schedule_id == schedule_id
            and r.status is ReservationStatus.HELD
            and r.expires_at is not None
            and r.expires_at <= at
        ]
        for reservation_id in lapsed:
            self._inner.try_transition(
                reservation_id, ReservationStatus.HELD, ReservationStatus.EXPIRED, at
            )
        return len(lapsed)


class _RepeatsPageBoundary(_Delegate):
    def page(self, *, after: Any, limit: int, **filters: Any) -> list[Any]:
        """The bug: the keyset condition is ``>=``, so each page repeats the last one's end."""
        found = self._inner.page(after=None, limit=10**9, **filters)
        if after is not None:
            found = [r for r in found if (r.created_at, r.id) >= after]
        return list(found[:limit])


class _TakesFromTheScheduleOnly(_Delegate):
    """The bug: a booking's seats are taken from its own schedule, never from its pools."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._booked: set[str] = set()

    def lock(self, schedule_ids: Any) -> Any:
        self._booked = set(schedule_ids)
        return self._inner.lock(schedule_ids)

    def move_seats(self, changes: dict[str, int]) -> None:
        self._inner.move_seats(
            {sid: seats for sid, seats in changes.items() if seats < 0 or sid in self._booked}
        )


class _ReturnsToTheScheduleOnly(_Delegate):
    def release_seats(self, schedule_id: str, quantity: int) -> bool:
        """The bug: cancel and refund give the seats back to the schedule, not to its pools."""
        schedule = self._inner.get(schedule_id)
        if schedule is None or schedule.reserved < quantity:
            return False
        self._inner.move_seats({schedule_id: -quantity})
        return True


class _ShrinksWithoutReturning(_Delegate):
    def move_seats(self, changes: dict[str, int]) -> None:
        """The bug: a smaller quantity keeps its seats taken (only growth is written)."""
        self._inner.move_seats({sid: seats for sid, seats in changes.items() if seats > 0})


class _CancelsWithoutOffering(_Delegate):
    def release_seats(self, schedule_id: str, quantity: int) -> int | None:
        """The bug: a cancel or refund returns the seats but never looks at the list.

        Only a later job (the sweep of lapsed holds) would offer them.
        """
        waiting = self._inner.release_seats(schedule_id, quantity)
        return None if waiting is None else 0


class _StrictHeadOfLine(_Delegate):
    """The bug: offers stop at the first entry that does not fit (no first fit)."""

    def __init__(self, inner: Any, schedules: Any) -> None:
        super().__init__(inner)
        self._schedules = schedules

    def waiting(self, schedule_id: str, limit: int | None = None) -> list[Any]:
        schedule = self._schedules.get(schedule_id)
        counted = [schedule_id, *schedule.pools] if schedule is not None else []
        free = min((self._schedules.get(c).remaining for c in counted), default=0)
        line = []
        for entry, offer_for in self._inner.waiting(schedule_id, limit):
            if entry.quantity > free:
                break
            line.append((entry, offer_for))
            free -= entry.quantity
        return line


class _LapsedOffersStay(_Delegate):
    def expire_holds(self, schedule_id: str, at: datetime, limit: int | None = None) -> Any:
        """The bug: an expired offer's seats are not passed on (it is not counted as freed)."""
        offers = [
            r.id
            for r in self._inner.page(
                schedule_id=schedule_id, user_id=None, status=None, after=None, limit=10**9
            )
            if is_offer(r.id) and r.status is ReservationStatus.HELD
        ]
        expired = self._inner.expire_holds(schedule_id, at, limit)
        if not expired:
            return expired
        still = {
            r.id
            for r in self._inner.page(
                schedule_id=schedule_id,
                user_id=None,
                status=ReservationStatus.HELD,
                after=None,
                limit=10**9,
            )
        }
        return expired - len([rid for rid in offers if rid not in still])


class _GrowsPastCapacity(ReservationService):
    def change_quantity(self, reservation_id: str, quantity: int, *, user_id: Any = None) -> Any:
        """The bug: more seats are taken without the capacity check (the schedule grows)."""
        try:
            return super().change_quantity(reservation_id, quantity, user_id=user_id)
        except BusinessException as exc:
            if exc.code is not ErrorCode.CAPACITY_EXCEEDED:
                raise
            short = (
                exc.details.get("schedule_id") or self.get_reservation(reservation_id).schedule_id
            )
            schedule = self.get_schedule(short)
            self.change_capacity(short, schedule.capacity + int(exc.details["requested"]))
            return super().change_quantity(reservation_id, quantity, user_id=user_id)


def _strict_head_of_line(store: InMemoryStore) -> AbstractUnitOfWork:
    uow = InMemoryUnitOfWork(store)
    uow.waitlist = _StrictHeadOfLine(uow.waitlist, uow.schedules)
    return uow


def _wrapping(repository: str, wrap: Callable[[Any], Any]) -> Callable[..., AbstractUnitOfWork]:
    """Units of work whose ``repository`` (``"schedules"``, ...) is wrapped by ``wrap``."""

    def make_uow(store: InMemoryStore) -> AbstractUnitOfWork:
        uow = InMemoryUnitOfWork(store)
        setattr(uow, repository, wrap(getattr(uow, repository)))
        return uow

    return make_uow


def _extends_lapsed_holds(store: InMemoryStore) -> AbstractUnitOfWork:
    uow = InMemoryUnitOfWork(store)
    uow.reservations = _ExtendsLapsedHolds(uow.reservations, store)
    return uow


def _expires_without_returning_seats(store: InMemoryStore) -> AbstractUnitOfWork:
    uow = InMemoryUnitOfWork(store)
    uow.reservations = _ExpiresWithoutReturningSeats(uow.reservations, store)
    return uow


def _overbooks(store: InMemoryStore) -> AbstractUnitOfWork:
    uow = InMemoryUnitOfWork(store)
    uow.reservations = _GrowsToFit(uow.reservations, uow.schedules)
    return uow


class _FoldingIds(dict[str, Any]):
    """Schedule ids compared as MariaDB's default collation does: case and trailing spaces."""

    @staticmethod
    def _fold(key: str) -> str:
        return key.casefold().rstrip(" ")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(self._fold(key))

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(self._fold(key))

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(self._fold(key), value)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(self._fold(key), default)

    def pop(self, key: str, *default: Any) -> Any:
        return super().pop(self._fold(key), *default)


def _folds_ids(store: InMemoryStore) -> AbstractUnitOfWork:
    if not isinstance(store.schedules, _FoldingIds):
        store.schedules = _FoldingIds()
    return InMemoryUnitOfWork(store)


class _RefundsCancelled(ReservationService):
    def __init__(self, uow_factory: Callable[[], AbstractUnitOfWork], **options: Any) -> None:
        super().__init__(uow_factory, **options)
        self._make_uow = uow_factory

    def refund_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Any:
        """The bug: a cancelled reservation can still be refunded (the money goes twice)."""
        try:
            return super().refund_reservation(reservation_id, user_id=user_id)
        except BusinessException as exc:
            if exc.code is not ErrorCode.INVALID_STATE_TRANSITION:
                raise
            current = self.get_reservation(reservation_id)
            if current.status is not ReservationStatus.CANCELLED:
                raise
            with self._make_uow() as uow:
                if not uow.reservations.try_transition(
                    reservation_id, current.status, ReservationStatus.REFUNDED, current.updated_at
                ):
                    raise AssertionError("mutant failed to apply its bug") from exc
                uow.commit()
            return dataclasses.replace(current, status=ReservationStatus.REFUNDED)


class _IgnoresOwner(ReservationService):
    def cancel_reservation(self, reservation_id: str, *, user_id: str | None = None) -> Any:
        """The bug: anyone may cancel anyone's reservation."""
        return super().cancel_reservation(reservation_id)


class _ReplaysStaleCopies(ReservationService):
    """The bug: replays answer from a cache of first responses, not the reservation now."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._first_responses: dict[tuple[str, str], Any] = {}

    def create_reservation(
        self, schedule_id: str, user_id: str, *, quantity: Any = 1, idempotency_key: Any = None
    ) -> Any:
        made = super().create_reservation(
            schedule_id, user_id, quantity=quantity, idempotency_key=idempotency_key
        )
        if idempotency_key is None:
            return made
        return self._first_responses.setdefault((user_id, idempotency_key), made)


class _KeepsTheLinesThatFit(ReservationService):
    """The bug: a refused order keeps the lines before the refused one (partial checkout)."""

    def create_order(
        self,
        user_id: str,
        lines: Any,
        *,
        idempotency_key: Any = None,
        hold_for: Any = None,
    ) -> Any:
        try:
            return super().create_order(
                user_id, lines, idempotency_key=idempotency_key, hold_for=hold_for
            )
        except BusinessException as exc:
            refused = exc.details.get("line")
            if exc.code is ErrorCode.IDEMPOTENCY_KEY_REUSED or not refused:
                raise
            super().create_order(user_id, lines[:refused], hold_for=hold_for)
            raise


def _service(
    make_uow: Callable[[InMemoryStore], AbstractUnitOfWork],
    service_class: type[ReservationService] = ReservationService,
) -> Callable[..., ReservationService]:
    """A fresh store per run; the machine passes its clock, so holds lapse as it says."""

    def make_service(clock: Callable[[], datetime]) -> ReservationService:
        store = InMemoryStore()

        def uow_factory() -> AbstractUnitOfWork:
            return make_uow(store)

        return service_class(uow_factory, clock=clock)

    return make_service


@pytest.mark.parametrize(
    ("make_service", "symptom"),
    [
        pytest.param(
            _service(_wrapping("schedules", _KeepsSeats)),
            "the seats of its HELD and CONFIRMED",
            id="seats-not-returned",
        ),
        pytest.param(
            _service(_overbooks),
            r"expected CAPACITY_EXCEEDED, got Res|got Schedule\(.*capacity=\d+.*expected Sch",
            id="overbooks",
        ),
        pytest.param(
            _service(_folds_ids), "SCHEDULE_ALREADY_EXISTS|SCHEDULE_NOT_FOUND", id="case-folded-ids"
        ),
        pytest.param(
            _service(InMemoryUnitOfWork, _RefundsCancelled),
            "expected INVALID_STATE_TRANSITION, got Res",
            id="refund-after-cancel",
        ),
        pytest.param(
            _service(InMemoryUnitOfWork, _IgnoresOwner),
            # It drops user_id altogether: its own validation goes too.
            "expected RESERVATION_NOT_FOUND, got|expected VALIDATION_ERROR, got",
            id="no-owner-check",
        ),
        pytest.param(
            _service(InMemoryUnitOfWork, _ReplaysStaleCopies),
            r"got Reservation\(.*CONFIRMED.*expected Reservation\(",
            id="stale-replay",
        ),
        pytest.param(
            _service(_wrapping("reservations", _ConfirmsLapsedHolds)),
            "expected HOLD_EXPIRED, got Res",
            id="confirm-lapsed",
        ),
        pytest.param(
            _service(_extends_lapsed_holds), "expected HOLD_EXPIRED, got Res", id="extend-lapsed"
        ),
        pytest.param(
            _service(_expires_without_returning_seats),
            "the seats of its HELD and CONFIRMED|expected success, got .*CAPACITY_EXCEEDED",
            id="expiry-keeps-seats",
        ),
        pytest.param(
            _service(InMemoryUnitOfWork, _KeepsTheLinesThatFit),
            "the seats of its HELD and CONFIRMED",
            id="order-not-atomic",
        ),
        pytest.param(
            _service(_wrapping("schedules", _TakesFromTheScheduleOnly)),
            "and of those of .*, which list it as a pool",
            id="pool-not-taken",
        ),
        pytest.param(
            _service(_wrapping("schedules", _ReturnsToTheScheduleOnly)),
            "and of those of .*, which list it as a pool",
            id="pool-not-returned",
        ),
        pytest.param(
            _service(InMemoryUnitOfWork, _GrowsPastCapacity),
            "expected CAPACITY_EXCEEDED, got Res",
            id="growth-skips-capacity",
        ),
        pytest.param(
            _service(_wrapping("schedules", _ShrinksWithoutReturning)),
            "the seats of its HELD and CONFIRMED",
            id="shrink-keeps-seats",
        ),
        pytest.param(
            _service(_wrapping("schedules", _CancelsWithoutOffering)),
            "yet it was not OFFERED|got WaitlistEntry",
            id="cancel-does-not-offer",
        ),
        pytest.param(
            _service(_strict_head_of_line),
            "yet it was not OFFERED",
            id="head-of-line",
        ),
        pytest.param(
            _service(_wrapping("reservations", _LapsedOffersStay)),
            # Not counted as freed, its seats are not offered (and the sweep says so too).
            r"yet it was not OFFERED|got WaitlistEntry|swept \d+, but",
            id="lapsed-offer-not-passed-on",
        ),
        pytest.param(
            _service(_wrapping("reservations", _RepeatsPageBoundary)),
            r"pages not in \(created_at, id\) order|got \[",
            id="page-repeats-boundary",
        ),
    ],
)
def test_machine_finds_the_bug(
    make_service: Callable[..., ReservationService], symptom: str
) -> None:
    """Within the runs below: each is derandomized, the longer one explores further."""
    for run in RUNS:
        try:
            run_state_machine_as_test(build_state_machine(make_service), settings=run)
        except AssertionError as error:
            found = str(error)
            break
    else:
        pytest.fail(f"no run found the bug ({symptom})")
    assert re.search(symptom, found), found


@pytest.mark.parametrize("run", RUNS, ids=["short", "long"])
def test_correct_service_passes_the_same_run(run: settings) -> None:
    run_state_machine_as_test(build_state_machine(_service(InMemoryUnitOfWork)), settings=run)
