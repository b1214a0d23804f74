"""The async service among tasks: races released by an asyncio.Barrier, cancellation.

Every scenario runs on the suites' shared event loop (where the async engines live).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from reservation_core import AsyncReservationService, BusinessException, ReservationStatus
from reservation_core.testing._blocking import run
from tests.backends import Backend


async def race(calls: list[Callable[[], Coroutine[Any, Any, Any]]]) -> Counter[str]:
    """Start one task per call, release them together; count outcomes by error code."""
    barrier = asyncio.Barrier(len(calls))

    async def one(call: Callable[[], Coroutine[Any, Any, Any]]) -> str:
        await barrier.wait()
        try:
            await call()
        except BusinessException as error:
            return str(error.code)
        return "ok"

    return Counter(await asyncio.gather(*(one(call) for call in calls)))


def _service(backend: Backend, **options: Any) -> AsyncReservationService:
    service = backend.kit_service(**options)
    assert isinstance(service, AsyncReservationService)
    return service


@pytest.mark.parametrize("admission", [2, None])
def test_hundred_tasks_for_ten_seats(
    backend: Backend, new_id: Callable[[str], str], admission: int | None
) -> None:
    service = _service(backend, max_concurrent_per_schedule=admission)
    sid = new_id("hot")

    async def scenario() -> Counter[str]:
        await service.create_schedule(sid, 10)
        return await race(
            [lambda n=n: service.create_reservation(sid, f"user-{n}") for n in range(100)]
        )

    assert run(scenario()) == {"ok": 10, "CAPACITY_EXCEEDED": 90}
    tally = backend.tally(sid)
    assert (tally.reserved, tally.confirmed_count) == (10, 10)
    assert tally.consistent


def test_concurrent_cancels_return_seats_once(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    service = _service(backend)
    sid = new_id("cancel")

    async def scenario() -> Counter[str]:
        await service.create_schedule(sid, 3)
        booking = await service.create_reservation(sid, "ann", quantity=3)
        return await race([lambda: service.cancel_reservation(booking.id) for _ in range(20)])

    assert run(scenario()) == {"ok": 1, "RESERVATION_ALREADY_CANCELLED": 19}
    assert backend.tally(sid).reserved == 0


def test_cancelled_tasks_leave_no_partial_write_and_no_checked_out_connection(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    """Cancel bookings and cancellations at every point of their way, over and over."""
    service = _service(backend)
    sid = new_id("cancelled")
    rng = random.Random(42)

    async def churn(user: str) -> None:
        try:
            booking = await service.create_reservation(sid, user)
            await service.cancel_reservation(booking.id)
        except BusinessException as error:
            if error.code not in {"CAPACITY_EXCEEDED", "DUPLICATE_RESERVATION"}:
                raise  # reported by the gather below

    async def scenario() -> int:
        await service.create_schedule(sid, 5)
        cancelled = 0
        for round_ in range(40):
            tasks = [asyncio.create_task(churn(f"u{round_}-{n}")) for n in range(8)]
            # Let the tasks run a random number of loop turns, then cancel the rest:
            # wherever each one is, waiting for admission, a connection, the server or
            # its COMMIT.
            for _ in range(rng.randint(0, 60)):
                await asyncio.sleep(0)
            for task in tasks:
                cancelled += task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                # Finished, refused for want of seats, or cancelled: nothing else (such
                # as a driver's error leaking out).
                assert outcome is None or isinstance(outcome, asyncio.CancelledError), outcome
        return cancelled

    cancelled = run(scenario())
    assert cancelled > 0  # the scenario did cancel tasks mid-way
    tally = backend.tally(sid)
    assert tally.consistent, tally
    if backend.engine is not None:
        assert _checked_out(backend) == 0


def _checked_out(backend: Backend) -> int:
    make = backend.make_async_uow
    assert make is not None
    engine = make()._bind  # the AsyncEngine the backend's units of work use
    return int(engine.sync_engine.pool.checkedout())


def test_a_cancelled_hold_confirmation_keeps_the_state_machine(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    service = _service(backend)
    sid = new_id("holds")

    async def scenario() -> list[ReservationStatus]:
        await service.create_schedule(sid, 50)
        holds = [await service.hold_reservation(sid, f"h{n}") for n in range(20)]
        tasks = [asyncio.create_task(service.confirm_reservation(h.id)) for h in holds]
        await asyncio.sleep(0)
        for task in tasks[::2]:
            task.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            assert not isinstance(outcome, Exception), outcome
        return [(await service.get_reservation(h.id)).status for h in holds]

    statuses = run(scenario())
    assert set(statuses) <= {ReservationStatus.HELD, ReservationStatus.CONFIRMED}
    tally = backend.tally(sid)
    assert tally.consistent
    assert tally.reserved == 20
