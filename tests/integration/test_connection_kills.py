"""Connections killed at the worst moments (a DBA's ``KILL``, a failover): no raw driver
exception escapes, no pool slot leaks, and the books stay balanced."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, audit, metadata
from tests.cli.conftest import run_cli
from tests.databases import database_url, driver_url, make_engine, separate_database_url
from tests.killer import kill_connections_until


@pytest.fixture
def plain_mariadb() -> Iterator[Engine]:
    """An engine made as the README makes one: no ``isolation_level`` option."""
    engine = create_engine(database_url("mariadb"), pool_size=3, max_overflow=0, pool_timeout=5)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


#: How each server names a session, ends another one, and tells whether it is gone.
_SESSIONS = {
    "postgresql": (
        "SELECT pg_backend_pid()",
        "SELECT pg_terminate_backend(:id)",
        "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = :id",
    ),
    "mysql": (
        "SELECT CONNECTION_ID()",
        "KILL CONNECTION :id",
        "SELECT COUNT(*) FROM information_schema.processlist WHERE id = :id",
    ),
}


def _end_session(url: URL, victim: int) -> None:
    """End a server session from a connection of its own, as a DBA or a failover does."""
    dba = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    _, kill, alive = _SESSIONS[dba.dialect.name]
    with dba.connect() as other:
        other.execute(text(kill), {"id": victim})
        deadline = time.monotonic() + 5  # the kill returns before the session has ended
        while other.execute(text(alive), {"id": victim}).scalar_one():
            assert time.monotonic() < deadline, "the killed session lingers"
            time.sleep(0.001)
    dba.dispose()


def test_a_connection_killed_as_the_pool_resets_it_returns_its_slot(
    plain_mariadb: Engine, new_id: Callable[[str], str]
) -> None:
    """The pool resets a returned connection: a ROLLBACK, then whatever session state the
    connection changed (the isolation level, once, on MariaDB). A connection killed in
    between escaped as a raw driver error and never returned its pool slot. Now the unit of
    work changes no session state, so there is nothing left to restore there: more kills
    than the pool has slots, and every call still completes at once."""
    engine = plain_mariadb
    kills: list[int] = []

    def kill_it(dbapi_connection: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT CONNECTION_ID()")
        connection_id = cursor.fetchone()[0]
        cursor.close()
        _end_session(engine.url, connection_id)
        kills.append(connection_id)

    class KilledOnReturn(SqlAlchemyUnitOfWork):
        def close(self) -> None:
            connection = self._connection
            if connection is not None and not connection.invalidated:
                # The pool runs these after its ROLLBACK, newest first: the kill comes
                # after the ROLLBACK and before any session state is restored.
                restores = connection.connection._connection_record.finalize_callback
                assert not restores  # the unit of work changed no session state
                restores.append(kill_it)
            super().close()

    service = ReservationService(lambda: KilledOnReturn(engine))
    sid, key = new_id("kill"), new_id("key")
    service.create_schedule(sid, 10)
    started = time.perf_counter()
    booked = [service.create_reservation(sid, f"user-{n}", idempotency_key=key) for n in range(5)]
    assert time.perf_counter() - started < 5  # never waits out pool_timeout
    assert len(kills) >= 6
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    plain = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    assert [plain.get_reservation(r.id) for r in booked] == booked
    assert plain.get_schedule(sid).reserved == 5


def test_stress_under_connection_kills_every_100_ms_finishes_and_balances() -> None:
    """``reservation-core stress`` on MariaDB while a DBA kills its connections every
    100 ms: it ends on time, no raw exception escapes, the audit is clean."""
    url = separate_database_url("mariadb", "rc_kills")
    engine = create_engine(url)
    metadata.drop_all(engine)  # a database of its own: rebuilt, so never an older schema
    metadata.create_all(engine)
    stop = threading.Event()
    killed: list[int] = []

    thread = threading.Thread(target=kill_connections_until, args=(engine.url, stop, killed))
    thread.start()
    started = time.perf_counter()
    try:
        args = ("--url", url, "--seconds", "3", "--threads", "8", "--json", "--keep")
        result = run_cli("stress", *args)
    finally:
        stop.set()
        thread.join()
    elapsed = time.perf_counter() - started
    assert elapsed < 60, elapsed
    assert killed, "the killer found no connection to kill"
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert not [v for v in report["violations"] if "leaked" in v], report["violations"]
    assert all(code != "LEAKED" for o in report["outcomes"].values() for code in o)
    checked = audit(engine, schedule_ids=list(report["reserved"]))
    assert checked.consistent, checked
    assert checked.schedules_checked == report["schedules"]
    engine.dispose()


class _KilledBeforeCommit(SqlAlchemyUnitOfWork):
    """A unit of work whose connection dies after its statements, just before ``COMMIT``."""

    def commit(self) -> None:
        whoami = _SESSIONS[self._connection.dialect.name][0]
        _end_session(self._connection.engine.url, self._connection.exec_driver_sql(whoami).scalar())
        super().commit()


@pytest.mark.parametrize(
    ("name", "driver"),
    # pg8000 sometimes lets the socket's own error through at COMMIT, which SQLAlchemy does
    # not read as a disconnect: then only the library knows the connection is dead.
    [("postgresql", "psycopg"), ("postgresql", "pg8000"), ("mariadb", "pymysql")],
)
def test_a_connection_seen_dying_is_discarded_not_pooled_again(
    name: str, driver: str, new_id: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    """A connection handed back to the pool is reset (rolled back) and kept for the next
    caller. A dead one fails the reset, which SQLAlchemy logs at ERROR with a traceback
    (paging a host's error tracking), or, where the driver's rollback sends nothing, goes
    unnoticed until the next caller meets it. A connection the unit of work saw die is
    discarded before it goes back: the next booking, on the pool's only connection and
    with no retry allowed, always works."""
    engine = make_engine(driver_url(name, driver), pool_size=1, max_overflow=0, pool_timeout=5)
    metadata.create_all(engine)
    killed = ReservationService(lambda: _KilledBeforeCommit(engine))
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine), max_attempts=1)
    schedule = service.create_schedule(new_id("after"), 100).id
    try:
        with caplog.at_level(logging.WARNING):
            for attempt in range(20):  # the socket's error comes in some runs, not all
                with pytest.raises(BusinessException) as lost:
                    killed.create_schedule(new_id("killed"), 5)
                assert (lost.value.code, lost.value.details) == (
                    ErrorCode.STORAGE_UNAVAILABLE,
                    {"outcome": "unknown"},
                )
                booked = service.create_reservation(schedule, f"user-{attempt}")
                assert service.get_reservation(booked.id) == booked
        resets = [
            record
            for record in caplog.records
            if record.levelno >= logging.ERROR and "Exception during reset" in record.getMessage()
        ]
        assert resets == []
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()
