"""The backends the contract and race suites run on, behind one small interface."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from reservation_core import AsyncReservationService, BusinessException, ReservationService
from reservation_core.adapters.memory import (
    AsyncInMemoryUnitOfWork,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from reservation_core.adapters.sqlalchemy import (
    AsyncSqlAlchemyUnitOfWork,
    SqlAlchemyUnitOfWork,
    reservations,
    schedules,
)
from reservation_core.domain import ReservationStatus
from reservation_core.ports import AbstractUnitOfWork
from reservation_core.testing._blocking import BlockingService


@dataclasses.dataclass(frozen=True)
class Tally:
    """A schedule as stored, beside what its reservations say it should be."""

    capacity: int
    reserved: int
    confirmed_quantity: int
    confirmed_count: int
    held_quantity: int = 0
    held_count: int = 0

    @property
    def consistent(self) -> bool:
        """``0 <= reserved <= capacity`` and ``reserved == Σ quantity of HELD + CONFIRMED``."""
        active = self.confirmed_quantity + self.held_quantity
        return 0 <= self.reserved <= self.capacity and self.reserved == active


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    make_uow: Callable[[], AbstractUnitOfWork]
    tally: Callable[[str], Tally]
    #: Overwrites a schedule's stored ``reserved``, as a hand edit of the table would.
    set_reserved: Callable[[str, int], None]
    #: The engine of a SQL backend (``None`` in memory).
    engine: Engine | None = None
    #: For an ``async-`` backend: the factory of asynchronous units of work, which the
    #: backend's services run on (``make_uow`` stays a sync one, for direct reads).
    make_async_uow: Callable[[], Any] | None = None

    @property
    def is_async(self) -> bool:
        return self.make_async_uow is not None

    def service(self, **options: Any) -> Any:
        """A service with the suites' options, called as the sync one is.

        For an ``async-`` backend, an ``AsyncReservationService`` seen through a blocking
        view: every call a task on the shared event loop, so the suites written for
        threads race tasks.
        """
        made = self.kit_service(**options)
        return BlockingService(made) if isinstance(made, AsyncReservationService) else made

    def kit_service(self, **options: Any) -> ReservationService | AsyncReservationService:
        """The service itself: ``AsyncReservationService`` for an ``async-`` backend."""
        options.setdefault("retry_backoff", 0.001)
        options.setdefault("max_attempts", 30)
        if self.make_async_uow is not None:
            return AsyncReservationService(self.make_async_uow, **options)
        return ReservationService(self.make_uow, **options)


def memory_backend(store: InMemoryStore | None = None) -> Backend:
    store = InMemoryStore() if store is None else store

    def tally(schedule_id: str) -> Tally:
        with store.lock:
            schedule = store.schedules[schedule_id]
            mine = [r for r in store.reservations.values() if r.schedule_id == schedule_id]
        confirmed = [r for r in mine if r.status is ReservationStatus.CONFIRMED]
        held = [r for r in mine if r.status is ReservationStatus.HELD]
        return Tally(
            schedule.capacity,
            schedule.reserved,
            sum(r.quantity for r in confirmed),
            len(confirmed),
            sum(r.quantity for r in held),
            len(held),
        )

    def set_reserved(schedule_id: str, reserved: int) -> None:
        with store.lock:
            schedule = store.schedules[schedule_id]
            store.schedules[schedule_id] = dataclasses.replace(schedule, reserved=reserved)

    return Backend("memory", lambda: InMemoryUnitOfWork(store), tally, set_reserved)


def async_memory_backend() -> Backend:
    """``memory_backend``, served by the async service over ``AsyncInMemoryUnitOfWork``."""
    store = InMemoryStore()
    return dataclasses.replace(
        memory_backend(store),
        name="async-memory",
        make_async_uow=lambda: AsyncInMemoryUnitOfWork(store),
    )


def async_sql_backend(name: str, engine: Engine, async_engine: AsyncEngine) -> Backend:
    """``sql_backend`` on ``engine``'s database, served through ``async_engine``."""
    plain = sql_backend(name, engine)
    return dataclasses.replace(
        plain,
        name=f"async-{name}",
        make_async_uow=lambda: AsyncSqlAlchemyUnitOfWork(async_engine),
    )


def sql_backend(name: str, engine: Engine) -> Backend:
    """A backend on ``engine``, whose database has the ``rc_`` tables."""
    s, r = schedules.c, reservations.c

    def seats(status: str) -> Any:
        return func.coalesce(func.sum(case((r.status == status, r.quantity), else_=0)), 0)

    def count(status: str) -> Any:
        return func.coalesce(func.sum(case((r.status == status, 1), else_=0)), 0)

    query = (
        select(
            s.capacity,
            s.reserved,
            seats("CONFIRMED"),
            count("CONFIRMED"),
            seats("HELD"),
            count("HELD"),
        )
        .select_from(schedules.outerjoin(reservations, r.schedule_id == s.id))
        .where(s.id == bindparam("sid"))
        .group_by(s.id, s.capacity, s.reserved)
    )

    def tally(schedule_id: str) -> Tally:
        with engine.connect() as connection:
            row = connection.execute(query, {"sid": schedule_id}).one()
        return Tally(*(int(value) for value in row))

    def set_reserved(schedule_id: str, reserved: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                update(schedules).where(s.id == schedule_id).values(reserved=reserved)
            )

    return Backend(name, lambda: SqlAlchemyUnitOfWork(engine), tally, set_reserved, engine)


class HostTransactionUnitOfWork(SqlAlchemyUnitOfWork):
    """A unit of work inside a host transaction of its own, committed when it ends well.

    What a host does around each call (``with engine.begin() as connection:``), so that
    every use case of a suite runs in joined mode: savepoints, no retries.
    """

    def __init__(self, engine: Engine) -> None:
        self._host = engine.connect()
        self._host.begin()
        super().__init__(self._host)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
            if exc_type is None or issubclass(exc_type, BusinessException):
                self._host.commit()  # a business error left the host transaction usable
            else:
                self._host.rollback()
        finally:
            self._host.close()


def joined_backend(name: str, engine: Engine) -> Backend:
    """``sql_backend``, with every call inside a host transaction that commits."""
    plain = sql_backend(name, engine)
    return dataclasses.replace(
        plain, name=f"joined-{name}", make_uow=lambda: HostTransactionUnitOfWork(engine)
    )
