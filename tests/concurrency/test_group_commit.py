"""Group commit: the bookings waiting in a process share one transaction, exactly.

A spy unit of work holds the first bookings (a lone leader, and on a database that takes
two writers at once a second lone booking or group beside it) until every other thread
waits behind them, so the next group is all the rest of the crowd: what follows is then
the same on every run. Nothing sleeps; the spy polls the queue's length.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from reservation_core import BusinessException, ReservationService
from reservation_core.ports import AbstractUnitOfWork
from tests.backends import Backend
from tests.concurrency.race import race
from tests.conftest import BACKEND_NAMES, make_backend

CROWD = 60
#: The backends that write one transaction at a time: one group at a time there.
ONE_WRITER = ("memory", "sqlite")


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    """The sync backends: group commit is ReservationService's (tests/host: never joined)."""
    return make_backend(request, request.param)


class Spy:
    """A unit of work that reports group sizes and can hold the first bookings."""

    def __init__(
        self, inner: AbstractUnitOfWork, hold: Callable[[int], None], sizes: list[int]
    ) -> None:
        self._inner, self._hold, self._sizes = inner, hold, sizes

    def __enter__(self) -> Spy:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def add_reservation_and_commit(self, reservation: Any) -> bool:
        self._hold(1)
        return self._inner.add_reservation_and_commit(reservation)

    def add_group_and_commit(self, reservations: Any) -> list[bool]:
        self._sizes.append(len(reservations))
        self._hold(len(reservations))
        return self._inner.add_group_and_commit(reservations)


def _queued(service: ReservationService) -> int:
    groups = service._groups
    assert groups is not None
    return groups.queued()


def _held_service(
    backend: Backend, sizes: list[int], armed: threading.Event, held: list[int]
) -> ReservationService:
    """A service whose bookings, once ``armed``, hold until the rest of the crowd waits.

    ``held``: how many bookings were held (the crowd's first one or two transactions).
    """
    lock = threading.Lock()
    released = threading.Event()
    service: ReservationService

    def hold(members: int) -> None:
        with lock:
            if not armed.is_set():
                return
            held.append(members)
        deadline = time.monotonic() + 60
        while not released.is_set():
            if sum(held) + _queued(service) == CROWD:  # everybody else waits behind us
                armed.clear()  # the crowd's next group is not held
                released.set()
            assert time.monotonic() < deadline, f"the crowd never queued: {held} {_queued(service)}"
            time.sleep(0.001)

    service = ReservationService(
        lambda: Spy(backend.make_uow(), hold, sizes),  # type: ignore[arg-type, return-value]
        retry_backoff=0.001,
        max_attempts=30,
    )
    return service


@pytest.mark.parametrize("spread", [1, 4], ids=["one-schedule", "four-schedules"])
def test_a_crowd_is_booked_in_one_group_exactly_as_one_by_one(
    backend: Backend, new_id: Callable[[str], str], spread: int
) -> None:
    sids = [new_id(f"group{n}") for n in range(spread)]
    seats = 25 // spread + 1  # one schedule: 26 seats; four: 7 each
    sizes: list[int] = []
    held: list[int] = []
    armed = threading.Event()
    service = _held_service(backend, sizes, armed, held)
    for sid in sids:
        service.create_schedule(sid, seats)
    warm_up = service.create_reservation(sids[0], "warm-up")  # its units are its own, it learns
    service.cancel_reservation(warm_up.id)
    armed.set()
    # 60 requests: quantities 1 and 2, 10 users who ask twice (the same schedule, or with
    # four schedules the same one for some and another for the rest), the schedules
    # interleaved in arrival order.
    asks = [(sids[n * 7 % 11 % spread], f"user-{n % 50}", 1 + n % 2) for n in range(CROWD)]
    results = race(
        [lambda s=s, u=u, q=q: service.create_reservation(s, u, quantity=q) for s, u, q in asks]
    )

    # The first transactions in flight: one where the store takes one writer, else two.
    assert len(held) == (1 if backend.name in ONE_WRITER else 2), held
    assert sizes[-1] == CROWD - sum(held)  # all the rest, in one transaction
    booked = [r for r in results if not isinstance(r, BusinessException)]
    refused = [
        (ask, r) for ask, r in zip(asks, results, strict=True) if isinstance(r, BusinessException)
    ]
    # One active reservation per user and schedule.
    assert Counter((r.schedule_id, r.user_id) for r in booked).most_common(1)[0][1] == 1
    for sid in sids:
        mine = [r for r in booked if r.schedule_id == sid]
        assert sum(r.quantity for r in mine) <= seats
        tally = backend.tally(sid)
        assert tally.consistent
        assert tally.reserved == sum(r.quantity for r in mine)
        assert tally.confirmed_count == len(mine)
    for (sid, user, _), error in refused:
        if error.code == "DUPLICATE_RESERVATION":
            mine = {r.id for r in booked if (r.schedule_id, r.user_id) == (sid, user)}
            assert error.details["reservation_id"] in mine
        else:  # refused only when its schedule had too few seats left, as one by one
            assert error.code == "CAPACITY_EXCEEDED", error
            assert error.details["remaining"] < error.details["requested"]
            left = seats - sum(r.quantity for r in booked if r.schedule_id == sid)
            assert left < 2
    # One event per booking, each the booking as it was made (the warm-up's two besides).
    claimed = service.claim_events(f"check-{sids[0]}", limit=10_000)
    mine_events = [e for e in claimed if e.schedule_id in sids and e.user_id != "warm-up"]
    assert sorted((e.reservation_id, e.schedule_id, e.quantity, e.type) for e in mine_events) == (
        sorted((r.id, r.schedule_id, r.quantity, "reservation.confirmed") for r in booked)
    )


def test_switched_off_every_booking_commits_alone(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    sid = new_id("alone")
    sizes: list[int] = []
    service = ReservationService(
        lambda: Spy(backend.make_uow(), lambda _: None, sizes),  # type: ignore[arg-type, return-value]
        group_commit=False,
    )
    service.create_schedule(sid, 30)
    results = race([lambda n=n: service.create_reservation(sid, f"u{n}") for n in range(30)])
    assert all(not isinstance(r, BusinessException) for r in results)
    assert sizes == []
    assert backend.tally(sid).reserved == 30


def test_group_commit_is_a_bool() -> None:
    with pytest.raises(TypeError, match="group_commit"):
        ReservationService(lambda: None, group_commit=1)  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize("name", ["joined-sqlite", "joined-postgresql", "joined-mariadb"])
def test_never_inside_the_hosts_transaction(
    name: str, request: pytest.FixtureRequest, new_id: Callable[[str], str]
) -> None:
    joined = make_backend(request, name)
    sid = new_id("joined")
    sizes: list[int] = []
    service = ReservationService(
        lambda: Spy(joined.make_uow(), lambda _: None, sizes),  # type: ignore[arg-type, return-value]
        retry_backoff=0.001,
    )
    service.create_schedule(sid, 20)
    results = race([lambda n=n: service.create_reservation(sid, f"u{n}") for n in range(12)])
    for result in results:  # no retries in the host's transaction: a conflict is the host's
        assert not isinstance(result, BusinessException) or result.details["retryable"]
    assert sizes == []
    assert joined.tally(sid).consistent


def test_a_booking_goes_ahead_while_another_is_under_way(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    """Two transactions at once where the store takes two writers: a slow booking does
    not hold up the next one; where it takes one writer, the next waits for it."""
    first, second = new_id("slow"), new_id("next")
    entered, release = threading.Event(), threading.Event()
    armed = threading.Event()

    def hold(_members: int) -> None:
        if armed.is_set():
            armed.clear()
            entered.set()
            assert release.wait(60), "never released"

    service = ReservationService(
        lambda: Spy(backend.make_uow(), hold, []),  # type: ignore[arg-type, return-value]
    )
    for sid in (first, second):
        service.create_schedule(sid, 5)
    service.cancel_reservation(service.create_reservation(first, "warm-up").id)  # it learns
    armed.set()
    slow = threading.Thread(target=service.create_reservation, args=(first, "slow"))
    slow.start()
    assert entered.wait(60)
    answers: list[object] = []
    following = threading.Thread(
        target=lambda: answers.append(service.create_reservation(second, "next"))
    )
    following.start()
    try:
        if backend.name in ONE_WRITER:
            deadline = time.monotonic() + 60
            while _queued(service) < 1:  # it waits to lead the next group
                assert time.monotonic() < deadline, "the next booking never waited"
                time.sleep(0.001)
            assert answers == []
        else:
            following.join(60)  # booked while the first is still held
            assert len(answers) == 1
            assert backend.tally(second).reserved == 1
            assert backend.tally(first).reserved == 0
    finally:
        release.set()
        slow.join(60)
        following.join(60)
    assert backend.tally(first).reserved == backend.tally(second).reserved == 1
