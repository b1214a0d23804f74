"""Each asyncio driver's exceptions read right, as the sync drivers' are (test_error_readers).

The same provocations run on an ``AsyncEngine``'s sync facade inside SQLAlchemy's greenlet
(as the adapter itself runs), except the deadlock, which needs two connections at once:
two tasks released by an ``asyncio.Barrier``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, insert, make_url, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from reservation_core.adapters.sqlalchemy import schedules
from reservation_core.adapters.sqlalchemy._dialects import rules_for
from reservation_core.adapters.sqlalchemy._errors import Trouble, trouble_of
from reservation_core.testing._blocking import run
from tests.databases import database_url
from tests.drivers.test_error_readers import TROUBLES

#: Every supported asyncio driver per server, as SQLAlchemy names them in a URL.
ASYNC_DRIVERS = {"postgresql": ["asyncpg", "psycopg"], "mariadb": ["aiomysql"]}


async def _deadlock(engine: AsyncEngine) -> exc.DBAPIError:
    first, second = (f"probe-{uuid.uuid4().hex[:12]}" for _ in range(2))
    async with engine.begin() as connection:
        rows = [{"id": sid, "capacity": 1, "reserved": 0} for sid in (first, second)]
        await connection.execute(insert(schedules), rows)
    barrier = asyncio.Barrier(2)
    errors: list[exc.DBAPIError] = []

    async def lock(a: str, b: str) -> None:
        async with engine.connect() as connection:
            try:
                await connection.execute(
                    update(schedules).where(schedules.c.id == a).values(capacity=2)
                )
                await barrier.wait()
                await connection.execute(
                    update(schedules).where(schedules.c.id == b).values(capacity=2)
                )
                await connection.commit()
            except exc.DBAPIError as error:
                errors.append(error)
                await connection.rollback()

    await asyncio.gather(lock(first, second), lock(second, first))
    assert len(errors) == 1, errors
    return errors[0]


def _provoked(server: str, engine: AsyncEngine, trouble: str) -> BaseException:
    if trouble == "deadlock":
        return run(_deadlock(engine))
    provoke, _ = TROUBLES[trouble]
    return run(greenlet_spawn(provoke, server, engine.sync_engine))


ROWS = [
    pytest.param(server, driver, trouble, id=f"{server}+{driver}-{trouble}")
    for server, drivers in ASYNC_DRIVERS.items()
    for driver in drivers
    for trouble in TROUBLES
]


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[tuple[str, str], AsyncEngine]]:
    made: dict[tuple[str, str], AsyncEngine] = {}
    yield made
    for engine in made.values():
        run(engine.dispose())


@pytest.mark.parametrize(("server", "driver", "trouble"), ROWS)
def test_each_async_driver_reads_each_trouble(
    server: str,
    driver: str,
    trouble: str,
    engines: dict[tuple[str, str], AsyncEngine],
    request: pytest.FixtureRequest,
) -> None:
    request.getfixturevalue(f"{server}_engine")  # the rc_ tables exist
    if (server, driver) not in engines:
        url = make_url(database_url(server))
        url = url.set(drivername=f"{url.get_backend_name()}+{driver}")
        engines[server, driver] = create_async_engine(url, pool_size=4)
    engine = engines[server, driver]
    error = _provoked(server, engine, trouble)
    found = trouble_of(error, rules_for(engine.dialect).classify)
    assert found is TROUBLES[trouble][1], repr(getattr(error, "orig", error))


@pytest.mark.parametrize("trouble", ["unique violation", "check violation", "busy"])
def test_aiosqlite_reads_each_trouble(trouble: str, tmp_path: Path) -> None:
    path = tmp_path / "probe.sqlite3"
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0})

    def provoke(sync_engine: Engine) -> BaseException:
        schedules.create(sync_engine)
        if trouble != "busy":
            return TROUBLES[trouble][0]("sqlite", sync_engine)
        with sync_engine.connect() as holder, sync_engine.connect() as waiter:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
            with pytest.raises(exc.DBAPIError) as info:
                waiter.exec_driver_sql("BEGIN IMMEDIATE")
            holder.rollback()
            return info.value

    try:
        error = run(greenlet_spawn(provoke, engine.sync_engine))
        expected = Trouble.TRANSIENT if trouble == "busy" else TROUBLES[trouble][1]
        found = trouble_of(error, rules_for(engine.dialect).classify)
        assert found is expected, repr(getattr(error, "orig", error))
    finally:
        run(engine.dispose())
