"""Connections killed at the worst moments (a DBA's ``KILL``, a failover): no raw driver
exception escapes, no pool slot leaks, and the books stay balanced."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, audit, metadata
from tests.cli.conftest import run_cli
from tests.databases import database_url, separate_database_url
from tests.killer import kill_connections_until


@pytest.fixture
def plain_mariadb() -> Iterator[Engine]:
    """An engine made as the README makes one: no ``isolation_level`` option."""
    engine = create_engine(database_url("mariadb"), pool_size=3, max_overflow=0, pool_timeout=5)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _kill(connection_id: int) -> None:
    """Kill a connection from a connection of its own, outside the engine under test."""
    dba = create_engine(database_url("mariadb"), poolclass=NullPool)
    alive = text("SELECT COUNT(*) FROM information_schema.processlist WHERE id = :id")
    with dba.connect() as other:
        other.execute(text(f"KILL CONNECTION {int(connection_id)}"))
        # KILL returns before the server has closed the victim's socket: wait until it has.
        deadline = time.monotonic() + 5
        while other.execute(alive, {"id": connection_id}).scalar_one():
            assert time.monotonic() < deadline, "the killed connection lingers"
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
        _kill(connection_id)
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
