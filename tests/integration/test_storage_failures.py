"""Database trouble never leaks a driver exception and never leaves a partial write."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.backends import Backend, sql_backend
from tests.concurrency.race import outcomes, race
from tests.databases import make_engine

SERVERS = ["postgresql", "mariadb"]
#: Where a booking without a key is one autocommit statement (see docs/performance.md).
SINGLE_STATEMENT_BOOKING = {"postgresql"}
_WHO_AM_I = {"postgresql": "SELECT pg_backend_pid()", "mariadb": "SELECT CONNECTION_ID()"}
_KILL = {"postgresql": "SELECT pg_terminate_backend({})", "mariadb": "KILL CONNECTION {}"}


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> tuple[str, Engine]:
    name: str = request.param
    return name, request.getfixturevalue(f"{name}_engine")


def _kill(name: str, engine: Engine, uow: SqlAlchemyUnitOfWork) -> None:
    """Kill the unit of work's connection from another one, as a DBA or a failover would."""
    pid = uow._runner.execute(text(_WHO_AM_I[name]), {}).scalar_one()
    uow.rollback()  # nothing written yet; leaves the connection idle, as if fresh from the pool
    with engine.connect() as other:
        other.execute(text(_KILL[name].format(int(pid))))
        other.commit()


def test_connection_killed_before_booking_leaves_no_partial_write(
    server: tuple[str, Engine], new_id: Callable[[str], str]
) -> None:
    """A connection that died in the pool: the call completes on a fresh connection, or
    (where the booking is a single autocommit statement, whose fate a lost connection
    leaves unknown) is STORAGE_UNAVAILABLE; either way the books balance."""
    name, engine = server
    backend = sql_backend(name, engine)
    sid = new_id("kill")
    backend.service().create_schedule(sid, 5)
    kills: list[bool] = []

    class KilledInThePool(SqlAlchemyUnitOfWork):
        def __enter__(self) -> KilledInThePool:
            super().__enter__()
            if not kills:
                _kill(name, engine, self)
                kills.append(True)
            return self

    service = ReservationService(lambda: KilledInThePool(engine), retry_backoff=0)
    if name in SINGLE_STATEMENT_BOOKING:
        with pytest.raises(BusinessException) as info:
            service.create_reservation(sid, "alice", quantity=2)
        assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
        assert info.value.details == {"outcome": "unknown"}
        expected_seats = 0
    else:  # the first statement failed inside a transaction: nothing happened, so retried
        reservation = service.create_reservation(sid, "alice", quantity=2)
        assert backend.service().get_reservation(reservation.id) == reservation
        expected_seats = 2
    assert kills == [True]
    tally = backend.tally(sid)
    assert tally.consistent
    assert (tally.reserved, tally.confirmed_count) == (expected_seats, expected_seats // 2)


def test_connection_killed_before_commit_is_reported_and_a_keyed_retry_books_once(
    server: tuple[str, Engine], new_id: Callable[[str], str]
) -> None:
    name, engine = server
    backend = sql_backend(name, engine)
    sid, key = new_id("kill"), new_id("key")
    backend.service().create_schedule(sid, 5)
    kills: list[bool] = []

    class KilledBeforeCommit(SqlAlchemyUnitOfWork):
        def commit(self) -> None:
            if not kills:
                pid = self._runner.execute(text(_WHO_AM_I[name]), {}).scalar_one()
                with engine.connect() as other:
                    other.execute(text(_KILL[name].format(int(pid))))
                    other.commit()
                kills.append(True)
            super().commit()

    service = ReservationService(lambda: KilledBeforeCommit(engine), retry_backoff=0)
    with pytest.raises(BusinessException) as info:
        service.create_reservation(sid, "alice", quantity=2, idempotency_key=key)
    assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert info.value.details == {"outcome": "unknown"}  # reported, never blindly repeated
    assert backend.tally(sid).reserved == 0  # the server rolled the transaction back

    retried = service.create_reservation(sid, "alice", quantity=2, idempotency_key=key)
    assert service.create_reservation(sid, "alice", quantity=2, idempotency_key=key) == retried
    tally = backend.tally(sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (2, 1, True)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def second_instance(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Backend, Backend]]:
    """Two engines on one database, as two app instances would have."""
    name: str = request.param
    first = request.getfixturevalue(f"{name}_engine")
    second = make_engine(first.url.render_as_string(hide_password=False))
    yield sql_backend(name, first), sql_backend(name, second)
    second.dispose()


def test_two_app_instances_never_overbook(
    second_instance: tuple[Backend, Backend], new_id: Callable[[str], str]
) -> None:
    one, two = second_instance
    sid = new_id("two-apps")
    one.service().create_schedule(sid, 10)
    services = [one.service(), two.service()]
    results = race(
        [lambda n=n: services[n % 2].create_reservation(sid, f"u{n}") for n in range(60)]
        + [lambda: services[0].create_reservation(sid, "same-user")] * 5
        + [lambda: services[1].create_reservation(sid, "same-user")] * 5
    )
    counts = outcomes(results)
    assert counts["ok"] == 10
    assert set(counts) <= {"ok", "CAPACITY_EXCEEDED", "DUPLICATE_RESERVATION"}
    tally = one.tally(sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (10, 10, True)


def test_sqlite_busy_file_is_waited_out_and_retried(tmp_path: Path) -> None:
    """A writer holding the file's lock past the busy timeout makes attempts fail with
    "database is locked"; they are retried, and the call succeeds once the lock is gone."""
    engine = create_engine(f"sqlite:///{tmp_path / 'busy.sqlite3'}", connect_args={"timeout": 0.01})
    metadata.create_all(engine)
    second_attempt = threading.Event()
    attempts = 0

    def counting_uow() -> SqlAlchemyUnitOfWork:
        nonlocal attempts
        attempts += 1
        if attempts == 2:
            second_attempt.set()
        return SqlAlchemyUnitOfWork(engine)

    service = ReservationService(counting_uow, retry_backoff=0.001, max_attempts=1000)
    holder = engine.raw_connection()
    holder.driver_connection.isolation_level = None  # type: ignore[union-attr]
    holder.cursor().execute("BEGIN IMMEDIATE")
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(service.create_schedule("s", 1)))
    worker.start()
    assert second_attempt.wait(timeout=30), "the first attempt did not fail on the lock"
    holder.cursor().execute("COMMIT")
    holder.close()
    worker.join()
    assert done
    assert attempts >= 2
    assert service.get_schedule("s").capacity == 1
    engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:1/test",
        "mysql+pymysql://root@127.0.0.1:1/test",
    ],
)
def test_unreachable_database_is_storage_unavailable(url: str) -> None:
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    service = ReservationService(
        lambda: SqlAlchemyUnitOfWork(engine), max_attempts=2, retry_backoff=0
    )
    for call in (
        lambda: service.create_schedule("s", 1),
        lambda: service.create_reservation("s", "u"),
        lambda: service.cancel_reservation("r"),
    ):
        with pytest.raises(BusinessException) as info:
            call()
        assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
        assert info.value.http_status == 503


def test_exhausted_pool_is_storage_unavailable(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'pool.sqlite3'}", pool_size=1, max_overflow=0, pool_timeout=0.05
    )
    metadata.create_all(engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    with engine.connect(), pytest.raises(BusinessException) as info:  # the only connection
        service.create_schedule("s", 1)
    assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert info.value.details == {"reason": "pool_timeout"}
    assert service.create_schedule("s", 1).capacity == 1
    engine.dispose()


def test_missing_tables_are_storage_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    with pytest.raises(BusinessException) as info:
        service.create_schedule("s", 1)
    assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
    engine.dispose()


def test_a_connection_to_a_read_only_server_is_replaced_and_the_call_retried(
    postgresql_engine: Engine, new_id: Callable[[str], str]
) -> None:
    """A pooled connection whose server now refuses writes (SQLSTATE 25006, as a primary
    demoted to a standby answers) passes the pool's ping; the write fails on it, the
    connection is discarded, and the use case runs again on a fresh one."""
    engine = make_engine(postgresql_engine.url.render_as_string(hide_password=False))
    engine.pool.dispose()
    read_only: list[object] = []

    @event.listens_for(engine, "connect")
    def first_connection_read_only(dbapi_connection: Any, _record: object) -> None:
        if not read_only:  # only the first connection the pool makes
            read_only.append(dbapi_connection)
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET default_transaction_read_only = on")
            dbapi_connection.commit()

    try:
        service = ReservationService(
            lambda: SqlAlchemyUnitOfWork(engine), retry_backoff=0, max_attempts=3
        )
        sid = new_id("read-only")
        schedule = service.create_schedule(sid, 3)
        assert len(read_only) == 1  # the first attempt met the read-only connection
        assert service.get_schedule(sid) == schedule
        reservation = service.create_reservation(sid, "alice", idempotency_key=new_id("k"))
        assert service.get_reservation(reservation.id) == reservation
    finally:
        engine.dispose()
