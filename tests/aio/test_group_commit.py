"""Group commit among tasks: the bookings waiting in the async service share one transaction.

As in tests/concurrency/test_group_commit.py, a spy unit of work holds the first lone
booking after arming until every other task has queued behind it, so the next group is
the whole crowd. The spy awaits (polling the queue's length) instead of blocking: the
crowd's tasks queue on the same event loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from reservation_core import AsyncReservationService, BusinessException, Reservation
from reservation_core.ports import AbstractAsyncUnitOfWork, AbstractUnitOfWork
from reservation_core.testing._blocking import run
from tests.backends import Backend

CROWD = 40


class Spy(AbstractAsyncUnitOfWork):
    """Reports the groups' sizes; the armed lone booking waits for the crowd to queue."""

    def __init__(self, inner: AbstractAsyncUnitOfWork, test: Held) -> None:
        self._inner, self._test = inner, test
        self.retryable = inner.retryable

    async def run(self, use_case: Callable[[AbstractUnitOfWork], Any]) -> Any:
        test = self._test

        def spied(uow: AbstractUnitOfWork) -> Any:
            real = uow.add_group_and_commit

            def add_group_and_commit(reservations: Any) -> list[bool]:
                test.sizes.append(len(reservations))
                return real(reservations)

            uow.add_group_and_commit = add_group_and_commit  # type: ignore[method-assign]
            return use_case(uow)

        if test.armed:
            test.armed = False
            for _ in range(30_000):  # until the test lets it go (everybody queued behind it)
                if test.release():
                    break
                await asyncio.sleep(0.001)
            else:
                raise AssertionError("the held booking was never released")
        return await self._inner.run(spied)


class Held:
    """An async service whose next lone booking, once armed, waits until ``release()``.

    By default until ``waiting`` bookings queue behind it.
    """

    def __init__(self, backend: Backend, waiting: int, **options: Any) -> None:
        make = backend.make_async_uow
        assert make is not None
        self.sizes: list[int] = []
        self.armed = False
        self.service = AsyncReservationService(
            lambda: Spy(make(), self), retry_backoff=0.001, max_attempts=30, **options
        )
        self.release: Callable[[], bool] = lambda: self.queued() >= waiting

    def queued(self) -> int:
        groups = self.service._groups
        assert groups is not None
        return groups.queued()


def test_a_crowd_of_tasks_is_booked_in_one_group_exactly_as_one_by_one(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    held = Held(backend, CROWD - 1)
    service = held.service
    sids = [new_id(f"g{n}") for n in range(2)]
    asks = [(sids[n % 2], f"user-{n % 30}", 1 + n % 2) for n in range(CROWD)]

    async def scenario() -> list[Reservation | BaseException]:
        for sid in sids:
            await service.create_schedule(sid, 12)
        warm_up = await service.create_reservation(sids[0], "warm-up")  # it learns
        await service.cancel_reservation(warm_up.id)
        held.armed = True
        calls = [service.create_reservation(s, u, quantity=q) for s, u, q in asks]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = run(scenario())
    assert max(held.sizes) == CROWD - 1  # all but the leader, in one transaction
    booked = [r for r in results if isinstance(r, Reservation)]
    assert all(isinstance(r, Reservation | BusinessException) for r in results), results
    assert Counter((r.schedule_id, r.user_id) for r in booked).most_common(1)[0][1] == 1
    for sid in sids:
        mine = [r for r in booked if r.schedule_id == sid]
        tally = backend.tally(sid)
        assert tally.consistent
        assert tally.reserved == sum(r.quantity for r in mine) <= 12
        assert tally.confirmed_count == len(mine)
    for (sid, user, _), result in zip(asks, results, strict=True):
        if isinstance(result, BusinessException):
            if result.code == "DUPLICATE_RESERVATION":
                same = {r.id for r in booked if (r.schedule_id, r.user_id) == (sid, user)}
                assert result.details["reservation_id"] in same
            else:
                assert result.code == "CAPACITY_EXCEEDED", result
                assert result.details["remaining"] < result.details["requested"]


def test_a_task_cancelled_while_it_waits_for_a_group_is_not_booked(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    held = Held(backend, 10)
    service = held.service
    sid = new_id("cancelled")
    opened = asyncio.Event()
    held.release = opened.is_set

    async def scenario() -> tuple[list[Any], list[bool]]:
        await service.create_schedule(sid, 100)
        await service.create_reservation(sid, "warm-up")
        held.armed = True
        leader = asyncio.ensure_future(service.create_reservation(sid, "leader"))
        await asyncio.sleep(0)  # the leader leads and waits, holding the crowd back
        tasks = [asyncio.ensure_future(service.create_reservation(sid, f"u{n}")) for n in range(10)]
        while held.queued() < 10:
            await asyncio.sleep(0.001)
        cancelled = [task.cancel() for task in tasks[::2]]  # five, still in the queue
        while held.queued() > 5:  # the cancelled ones leave the queue
            await asyncio.sleep(0.001)
        opened.set()
        results = await asyncio.gather(leader, *tasks, return_exceptions=True)
        return results, cancelled

    results, cancelled = run(scenario())
    assert all(cancelled)
    assert isinstance(results[0], Reservation)
    for n, result in enumerate(results[1:]):
        if n % 2 == 0:
            assert isinstance(result, asyncio.CancelledError), result
        else:
            assert isinstance(result, Reservation), result
    tally = backend.tally(sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (7, 7, True)
    assert held.sizes == [5]  # the five left, in one group


def test_switched_off_every_task_books_alone(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    held = Held(backend, 0, group_commit=False)
    service = held.service
    sid = new_id("alone")

    async def scenario() -> list[Any]:
        await service.create_schedule(sid, 30)
        calls = [service.create_reservation(sid, f"u{n}") for n in range(30)]
        return await asyncio.gather(*calls, return_exceptions=True)

    assert all(isinstance(r, Reservation) for r in run(scenario()))
    assert held.sizes == []
    assert backend.tally(sid).reserved == 30


def test_group_commit_is_a_bool() -> None:
    with pytest.raises(TypeError, match="group_commit"):
        AsyncReservationService(lambda: None, group_commit=1)  # type: ignore[arg-type, return-value]
