"""Wiring the async service: the binds it takes, the host's transaction, hooks, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import pytest
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from reservation_core import AsyncReservationService, BusinessException, ReservationService
from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from reservation_core.adapters.sqlalchemy import AsyncSqlAlchemyUnitOfWork, SqlAlchemyUnitOfWork
from reservation_core.instrumentation import Hooks, Outcome
from reservation_core.testing._blocking import run

DATABASES = ["sqlite", "postgresql", "mariadb"]


@pytest.fixture(params=DATABASES)
def engines(request: pytest.FixtureRequest) -> tuple[Engine, AsyncEngine]:
    """A database's sync engine (to look) and async engine (to serve)."""
    return (
        request.getfixturevalue(f"{request.param}_engine"),
        request.getfixturevalue(f"async_{request.param}_engine"),
    )


def test_inside_the_hosts_async_connection_the_host_decides(
    engines: tuple[Engine, AsyncEngine], new_id: Callable[[str], str]
) -> None:
    _, engine = engines
    sid = new_id("joined")
    setup = AsyncReservationService(lambda: AsyncSqlAlchemyUnitOfWork(engine))

    async def scenario() -> tuple[int, int, str]:
        await setup.create_schedule(sid, 1)
        async with engine.connect() as connection:
            await connection.begin()
            service = AsyncReservationService(lambda: AsyncSqlAlchemyUnitOfWork(connection))
            booking = await service.create_reservation(sid, "ann")
            with pytest.raises(BusinessException) as refused:  # the savepoint rolled back
                await service.create_reservation(sid, "bob")
            await connection.rollback()  # the host changes its mind: the seat returns
        undone = (await setup.get_schedule(sid)).reserved
        async with engine.begin() as connection:
            service = AsyncReservationService(lambda: AsyncSqlAlchemyUnitOfWork(connection))
            await service.create_reservation(sid, "cy")
        kept = (await setup.get_schedule(sid)).reserved
        assert (await setup.list_reservations(schedule_id=sid)).items[0].user_id == "cy"
        assert booking.user_id == "ann"
        return undone, kept, str(refused.value.code)

    assert run(scenario()) == (0, 1, "CAPACITY_EXCEEDED")


def test_inside_the_hosts_async_session(
    engines: tuple[Engine, AsyncEngine], new_id: Callable[[str], str]
) -> None:
    _, engine = engines
    sid = new_id("session")
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def scenario() -> int:
        session: AsyncSession
        async with sessions() as session, session.begin():
            service = AsyncReservationService(lambda: AsyncSqlAlchemyUnitOfWork(session))
            await service.create_schedule(sid, 4)
            await service.create_reservation(sid, "ann", quantity=3)
        async with sessions() as session:
            service = AsyncReservationService(lambda: AsyncSqlAlchemyUnitOfWork(session))
            return (await service.get_schedule(sid)).reserved

    assert run(scenario()) == 3


def test_each_adapter_refuses_the_others_bind_and_says_which(
    engines: tuple[Engine, AsyncEngine],
) -> None:
    sync_engine, async_engine = engines
    with pytest.raises(ValueError, match="SqlAlchemyUnitOfWork and ReservationService") as sync:
        AsyncSqlAlchemyUnitOfWork(sync_engine)  # type: ignore[arg-type]
    assert isinstance(sync.value, BusinessException)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(async_engine))  # type: ignore[arg-type]
    with pytest.raises(BusinessException, match="AsyncSqlAlchemyUnitOfWork") as refused:
        service.get_schedule("anything")
    assert refused.value.details == {"reason": "unsupported_bind", "bind": "AsyncEngine"}


def test_a_sync_unit_of_work_runs_in_a_worker_thread(new_id: Callable[[str], str]) -> None:
    store = InMemoryStore()
    service = AsyncReservationService(lambda: InMemoryUnitOfWork(store))
    sid = new_id("threaded")

    async def scenario() -> int:
        await service.create_schedule(sid, 2)
        await asyncio.gather(*(service.create_reservation(sid, f"u{n}") for n in range(2)))
        return (await service.get_schedule(sid)).reserved

    assert run(scenario()) == 2
    assert store.schedules[sid].reserved == 2


class _Recorder(Hooks):
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.outcomes: list[Outcome] = []

    def on_call(self, operation: str) -> AbstractContextManager[object]:
        self.calls.append(operation)
        return nullcontext()

    def on_outcome(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


def test_hooks_see_each_awaited_call_and_a_cancellation(new_id: Callable[[str], str]) -> None:
    recorder = _Recorder()
    store = InMemoryStore()
    service = AsyncReservationService(lambda: InMemoryUnitOfWork(store), hooks=recorder)
    sid = new_id("hooked")

    async def scenario() -> None:
        await service.create_schedule(sid, 1)
        with pytest.raises(BusinessException):
            await service.create_schedule(sid, 1)
        task = asyncio.create_task(service.create_reservation(sid, "ann"))
        await asyncio.sleep(0)  # the call has begun: it waits for its worker thread
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    codes = [(o.operation, o.code) for o in recorder.outcomes]
    assert codes == [
        ("create_schedule", "OK"),
        ("create_schedule", "SCHEDULE_ALREADY_EXISTS"),
        ("create_reservation", "CANCELLED"),
    ]
    assert recorder.calls == ["create_schedule", "create_schedule", "create_reservation"]
