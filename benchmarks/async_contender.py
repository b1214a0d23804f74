"""The ``library-async`` contender of hot_schedule.py: AsyncReservationService, in tasks.

``clients`` tasks on one event loop book through ``AsyncSqlAlchemyUnitOfWork`` over an
``AsyncEngine`` (the URL's database through its asyncio driver: asyncpg, aiomysql or
aiosqlite), with a pool of ``clients`` connections, exactly as the ``library`` contender's
threads book through the sync service. The same warm-up, measurement window and
accounting (a ``Run``), so the two compare in one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from reservation_core import AsyncReservationService, BusinessException
from reservation_core.adapters.sqlalchemy import (
    AsyncSqlAlchemyUnitOfWork,
    async_url,
    recommended_engine_options,
)

R = TypeVar("R")


def drive_async(
    name: str,
    url: URL,
    clients: int,
    seconds: float,
    pick: Callable[[], str],
    options: dict[str, Any],
    make_run: Callable[..., R],
) -> R:
    """Run ``clients`` tasks booking for ``seconds``; warm each one up first.

    ``make_run(name, clients, reservations, failures, seconds, cpu_seconds, latencies)``
    makes the result (hot_schedule.py's ``Run``).
    """
    run = _drive(name, async_url(url), clients, seconds, pick, options, make_run)
    return asyncio.run(run)


async def _drive(
    name: str,
    url: URL,
    clients: int,
    seconds: float,
    pick: Callable[[], str],
    options: dict[str, Any],
    make_run: Callable[..., R],
) -> R:
    # A queue pool on SQLite too: SQLAlchemy 2.0 gives aiosqlite file databases NullPool.
    engine_options: dict[str, Any] = {
        "pool_size": clients,
        "max_overflow": 0,
        "poolclass": AsyncAdaptedQueuePool,
    }
    if url.get_backend_name() == "sqlite":
        engine_options["connect_args"] = {"timeout": 30}
    engine_options.update(recommended_engine_options(url, dedicated=True))
    engine = create_async_engine(url, **engine_options)
    service = AsyncReservationService(lambda: AsyncSqlAlchemyUnitOfWork(engine), **options)
    users = itertools.count()
    ready = asyncio.Barrier(clients + 1)
    stop = asyncio.Event()
    counts = [0] * clients
    failures = [0] * clients
    latencies: list[list[float]] = [[] for _ in range(clients)]

    async def worker(index: int) -> None:
        with contextlib.suppress(BusinessException):
            await service.create_reservation(pick(), f"warmup-{name}-{uuid.uuid4()}")
        await ready.wait()
        mine = latencies[index]
        clock = time.perf_counter
        while not stop.is_set():
            started = clock()
            try:
                await service.create_reservation(pick(), f"u{next(users)}-{index}")
            except BusinessException:
                failures[index] += 1
            else:
                counts[index] += 1
            mine.append(clock() - started)

    tasks = [asyncio.create_task(worker(i)) for i in range(clients)]
    try:
        await ready.wait()
        cpu_started, started = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()
    return make_run(
        name,
        clients,
        sum(counts),
        sum(failures),
        elapsed,
        cpu,
        [x for per_client in latencies for x in per_client],
    )
