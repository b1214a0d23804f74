"""Each driver's exceptions read right: real trouble provoked on the real servers.

One row per (driver, trouble), as SQLAlchemy's ``test_is_disconnect`` does: the reader of
the rules :func:`rules_for` picks for that driver must classify the driver's own exception,
raised by the server, as the trouble it is.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, exc, insert, update
from sqlalchemy.dialects import postgresql

from reservation_core import BusinessException
from reservation_core.adapters.sqlalchemy import schedules
from reservation_core.adapters.sqlalchemy._dialects import rules_for
from reservation_core.adapters.sqlalchemy._errors import Trouble, translated, trouble_of
from reservation_core.ports import ConnectionLost
from tests.databases import DRIVERS, driver_url, make_engine

_WHO_AM_I = {"postgresql": "SELECT pg_backend_pid()", "mariadb": "SELECT CONNECTION_ID()"}
_KILL = {"postgresql": "SELECT pg_terminate_backend({})", "mariadb": "KILL CONNECTION {}"}
_SHORT_LOCK_WAIT = {
    "postgresql": "SET lock_timeout = '100ms'",
    "mariadb": "SET SESSION innodb_lock_wait_timeout = 1",
}
_SHORT_STATEMENTS = {
    "postgresql": ("SET statement_timeout = '50ms'", "SELECT pg_sleep(2)"),
    "mariadb": ("SET SESSION max_statement_time = 0.05", "SELECT SLEEP(2)"),
}


def _schedule(connection: Connection, capacity: int = 1) -> str:
    schedule_id = f"probe-{uuid.uuid4().hex[:12]}"
    connection.execute(insert(schedules), {"id": schedule_id, "capacity": capacity, "reserved": 0})
    connection.commit()
    return schedule_id


def _raised(action: Callable[[], object]) -> exc.DBAPIError | OSError:
    # OSError: pg8000 now and then lets a reset socket through unwrapped.
    with pytest.raises((exc.DBAPIError, OSError)) as info:
        action()
    return info.value


def unique_violation(server: str, engine: Engine) -> exc.DBAPIError | OSError:
    with engine.connect() as connection:
        schedule_id = _schedule(connection)
        row = {"id": schedule_id, "capacity": 1, "reserved": 0}
        return _raised(lambda: connection.execute(insert(schedules), row))


def check_violation(server: str, engine: Engine) -> exc.DBAPIError | OSError:
    with engine.connect() as connection:
        row = {"id": f"probe-{uuid.uuid4().hex[:12]}", "capacity": -1, "reserved": 0}
        return _raised(lambda: connection.execute(insert(schedules), row))


def _lock_both_crosswise(engine: Engine, first: str, second: str) -> list[BaseException]:
    """Two transactions lock ``first`` and ``second`` in opposite orders: one is a deadlock."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def lock(a: str, b: str) -> None:
        with engine.connect() as connection:
            try:
                connection.execute(update(schedules).where(schedules.c.id == a).values(capacity=2))
                barrier.wait(timeout=30)
                connection.execute(update(schedules).where(schedules.c.id == b).values(capacity=2))
                connection.commit()
            except exc.DBAPIError as error:
                errors.append(error)
                connection.rollback()

    threads = [
        threading.Thread(target=lock, args=(first, second)),
        threading.Thread(target=lock, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def deadlock(server: str, engine: Engine) -> exc.DBAPIError | OSError:
    with engine.connect() as connection:
        first, second = _schedule(connection), _schedule(connection)
    errors = _lock_both_crosswise(engine, first, second)
    assert len(errors) == 1, errors
    assert isinstance(errors[0], exc.DBAPIError)
    return errors[0]


def lock_timeout(server: str, engine: Engine) -> exc.DBAPIError | OSError:
    with engine.connect() as holder, engine.connect() as waiter:
        schedule_id = _schedule(holder)
        locking = update(schedules).where(schedules.c.id == schedule_id).values(capacity=3)
        holder.execute(locking)  # holds the row lock until rolled back
        waiter.exec_driver_sql(_SHORT_LOCK_WAIT[server])
        error = _raised(lambda: waiter.execute(locking))
        holder.rollback()
        return error


def statement_timeout(server: str, engine: Engine) -> exc.DBAPIError | OSError:
    setting, slow = _SHORT_STATEMENTS[server]
    with engine.connect() as connection:
        connection.exec_driver_sql(setting)
        return _raised(lambda: connection.exec_driver_sql(slow))


def killed_connection(server: str, engine: Engine) -> exc.DBAPIError | OSError:
    with engine.connect() as victim:
        pid = victim.exec_driver_sql(_WHO_AM_I[server]).scalar_one()
        victim.rollback()
        with engine.connect() as other:
            other.exec_driver_sql(_KILL[server].format(int(pid)))
            other.commit()
        return _raised(lambda: victim.exec_driver_sql("SELECT 1"))


TROUBLES: dict[str, tuple[Callable[[str, Engine], exc.DBAPIError | OSError], Trouble]] = {
    "unique violation": (unique_violation, Trouble.DUPLICATE),
    "check violation": (check_violation, Trouble.INTEGRITY),
    "deadlock": (deadlock, Trouble.TRANSIENT),
    "lock timeout": (lock_timeout, Trouble.TRANSIENT),
    "statement timeout": (statement_timeout, Trouble.TRANSIENT),
    "killed connection": (killed_connection, Trouble.DISCONNECT),
}

ROWS = [
    pytest.param(server, driver, trouble, id=f"{server}+{driver}-{trouble}")
    for server, drivers in DRIVERS.items()
    for driver in drivers
    for trouble in TROUBLES
]


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[tuple[str, str], Engine]]:
    made: dict[tuple[str, str], Engine] = {}
    yield made
    for engine in made.values():
        engine.dispose()


@pytest.mark.parametrize(("server", "driver", "trouble"), ROWS)
def test_each_driver_reads_each_trouble(
    server: str,
    driver: str,
    trouble: str,
    engines: dict[tuple[str, str], Engine],
    request: pytest.FixtureRequest,
) -> None:
    request.getfixturevalue(f"{server}_engine")  # the rc_ tables exist
    if (server, driver) not in engines:
        engines[server, driver] = make_engine(driver_url(server, driver), pool_size=4)
    engine = engines[server, driver]
    provoke, expected = TROUBLES[trouble]
    error = provoke(server, engine)
    found = trouble_of(error, rules_for(engine.dialect).classify)
    assert found is expected, repr(getattr(error, "orig", error))


SQLITE_TROUBLES = ["unique violation", "check violation", "busy"]


@pytest.mark.parametrize("trouble", SQLITE_TROUBLES)
def test_sqlite3_reads_each_trouble(trouble: str, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'probe.sqlite3'}", connect_args={"timeout": 0})
    schedules.create(engine)
    try:
        if trouble == "busy":
            with engine.connect() as holder, engine.connect() as waiter:
                holder.exec_driver_sql("BEGIN IMMEDIATE")
                error = _raised(lambda: waiter.exec_driver_sql("BEGIN IMMEDIATE"))
                holder.rollback()
            expected = Trouble.TRANSIENT
        else:
            provoke, expected = TROUBLES[trouble]
            error = provoke("sqlite", engine)
        found = trouble_of(error, rules_for(engine.dialect).classify)
        assert found is expected, repr(getattr(error, "orig", error))
    finally:
        engine.dispose()


@pytest.mark.parametrize("committing", [False, True])
def test_a_socket_error_a_driver_let_through_is_a_lost_connection(committing: bool) -> None:
    """pg8000 sometimes raises a bare ConnectionResetError when the server hangs up."""
    reset = ConnectionResetError(104, "Connection reset by peer")
    rules = rules_for(postgresql.pg8000.dialect())
    if committing:
        with pytest.raises(BusinessException) as info, translated(rules.classify, committing=True):
            raise reset
        assert info.value.details == {"outcome": "unknown"}
    else:
        with pytest.raises(ConnectionLost), translated(rules.classify):
            raise reset
