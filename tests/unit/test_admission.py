"""Per-schedule admission control: a limit per key, first come first served, no leaks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from reservation_core import ReservationService
from reservation_core._running.admission import Admission
from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from reservation_core.testing._blocking import run


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition (not a timed race: the test fails only if it never holds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.001)


def waiting(admission: Admission, key: str) -> int:
    gate = admission._gates.get(key)
    return 0 if gate is None else len(gate.waiters)


def test_waiters_enter_in_arrival_order_and_gates_are_dropped() -> None:
    admission = Admission(1)
    entered: list[int] = []

    def enter(index: int) -> None:
        with admission.admitted("s"):
            entered.append(index)

    threads = [threading.Thread(target=enter, args=(i,)) for i in range(5)]
    with admission.admitted("s"):
        for count, thread in enumerate(threads, start=1):
            thread.start()
            wait_until(lambda count=count: waiting(admission, "s") == count)
        with admission.admitted("other"):  # another key is not held up
            pass
    for thread in threads:
        thread.join()
    assert entered == [0, 1, 2, 3, 4]
    assert admission._gates == {}


def test_at_most_limit_holders_at_once() -> None:
    admission = Admission(3)
    inside = 0
    most = 0
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def hold() -> None:
        nonlocal inside, most
        barrier.wait()
        for _ in range(50):
            with admission.admitted("s"):
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=hold) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most <= 3
    assert admission._gates == {}


def test_an_error_inside_frees_the_place() -> None:
    admission = Admission(1)
    with pytest.raises(RuntimeError), admission.admitted("s"):
        raise RuntimeError
    with admission.admitted("s"):
        assert admission._gates["s"].free == 0
    assert admission._gates == {}


@pytest.mark.parametrize("limit", [0, -1, True, 1.5])
def test_service_rejects_a_bad_limit(limit: object) -> None:
    store = InMemoryStore()
    with pytest.raises(ValueError, match="max_concurrent_per_schedule"):
        ReservationService(
            lambda: InMemoryUnitOfWork(store),
            max_concurrent_per_schedule=limit,  # type: ignore[arg-type]
        )


def test_service_books_through_the_gate() -> None:
    store = InMemoryStore()
    service = ReservationService(lambda: InMemoryUnitOfWork(store), max_concurrent_per_schedule=1)
    service.create_schedule("s", capacity=2)
    service.create_reservation("s", "a")
    service.create_reservation("s", "b")
    assert service.get_schedule("s").remaining == 0
    assert service._admission is not None
    assert service._admission._gates == {}


def test_tasks_enter_in_arrival_order_and_a_cancelled_waiter_withdraws() -> None:
    admission = Admission(1)
    entered: list[int] = []

    async def enter(index: int) -> None:
        async with admission.admitted_async("s"):
            entered.append(index)

    async def scenario() -> None:
        async with admission.admitted_async("s"):
            tasks = [asyncio.create_task(enter(i)) for i in range(5)]
            while waiting(admission, "s") < 5:  # each task queued, in creation order
                await asyncio.sleep(0)
            tasks[2].cancel()  # withdraws: its place is never handed to it
            await asyncio.sleep(0)
            assert waiting(admission, "s") == 4
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[2], asyncio.CancelledError)

    run(scenario())
    assert entered == [0, 1, 3, 4]
    assert admission._gates == {}


def test_a_waiter_cancelled_after_its_turn_came_passes_it_on() -> None:
    admission = Admission(1)
    entered: list[str] = []

    async def enter(name: str) -> None:
        async with admission.admitted_async("s"):
            entered.append(name)

    async def scenario() -> None:
        holder = admission.admitted_async("s")
        await holder.__aenter__()
        first = asyncio.create_task(enter("first"))
        second = asyncio.create_task(enter("second"))
        while waiting(admission, "s") < 2:
            await asyncio.sleep(0)
        await holder.__aexit__(None, None, None)  # hands the place to "first"...
        first.cancel()  # ...cancelled before it could take it: "second" must get it
        await asyncio.gather(first, second, return_exceptions=True)

    run(scenario())
    assert entered == ["second"]
    assert admission._gates == {}


def test_threads_and_tasks_share_one_limit() -> None:
    admission = Admission(2)
    inside = most = 0
    lock = threading.Lock()

    def count(delta: int) -> None:
        nonlocal inside, most
        with lock:
            inside += delta
            most = max(most, inside)

    def in_thread() -> None:
        for _ in range(30):
            with admission.admitted("s"):
                count(1)
                time.sleep(0)
                count(-1)

    async def in_task() -> None:
        for _ in range(30):
            async with admission.admitted_async("s"):
                count(1)
                await asyncio.sleep(0)
                count(-1)

    async def tasks() -> None:
        await asyncio.gather(*(in_task() for _ in range(10)))

    threads = [threading.Thread(target=in_thread) for _ in range(5)]
    for thread in threads:
        thread.start()
    run(tasks())
    for thread in threads:
        thread.join()
    assert most <= 2
    assert admission._gates == {}
