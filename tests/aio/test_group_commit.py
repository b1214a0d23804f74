"""Group commit among tasks: the bookings waiting in the async service share one transaction.

As in tests/concurrency/test_group_commit.py, a spy unit of work holds the first
bookings after arming (one, or two where the database takes two writers at once) until
every other task waits behind them, so the next group is the rest of the crowd. The spy
awaits (polling the queue's length) instead of blocking: the crowd's tasks queue on the
same event loop.
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
    """Reports the groups' sizes; armed, a booking waits for the crowd to queue."""

    def __init__(self, inner: AbstractAsyncUnitOfWork, test: Held) -> None:
        self._inner, self._test = inner, test
        self.retryable = inner.retryable
        self._one_writer = getattr(inner, "_one_writer", False)  # as group commit sees it

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
            test.held += 1
            for _ in range(30_000):  # until the test lets it go (everybody queued behind it)
                if test.released or test.release():
                    test.armed, test.released = False, True
                    break
                await asyncio.sleep(0.001)
            else:
                raise AssertionError("the held booking was never released")
        return await self._inner.run(spied)


class Held:
    """An async service whose next bookings, once armed, wait until ``release()``.

    By default until ``crowd`` bookings are held or queued; ``held`` counts the held ones
    (each a lone booking: a task runs until it awaits, so the first ones book alone).
    """

    def __init__(self, backend: Backend, crowd: int, **options: Any) -> None:
        make = backend.make_async_uow
        assert make is not None
        self.sizes: list[int] = []
        self.armed = False
        self.held = 0
        self.released = False
        self.service = AsyncReservationService(
            lambda: Spy(make(), self), retry_backoff=0.001, max_attempts=30, **options
        )
        self.release: Callable[[], bool] = lambda: self.held + self.queued() >= crowd

    def queued(self) -> int:
        groups = self.service._groups
        assert groups is not None
        return groups.queued()


def test_a_crowd_of_tasks_is_booked_in_one_group_exactly_as_one_by_one(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    held = Held(backend, CROWD)
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
    # The first bookings in flight: one where the store takes one writer, else two.
    assert held.held == (1 if backend.name in ("async-memory", "async-sqlite") else 2)
    assert held.sizes[-1] == CROWD - held.held  # all the rest, in one transaction
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
    groups = service._groups
    assert groups is not None
    groups.one_at_a_time()  # the leader held, the others wait in the queue
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
