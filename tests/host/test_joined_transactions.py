"""A booking inside the host's own transaction commits or rolls back with the host's writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from reservation_core import BusinessException, ErrorCode, ReservationService, ReservationStatus
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, reservations
from tests.backends import Backend, sql_backend

DATABASES = ["sqlite", "postgresql", "mariadb"]

host_metadata = MetaData()
orders = Table(
    "host_orders",
    host_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reservation_id", String(36), nullable=False),
)


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "host_orm_orders"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    reservation_id: Mapped[str] = mapped_column(String(36))


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    host_metadata.create_all(engine)
    Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def backend(engine: Engine) -> Backend:
    return sql_backend(engine.dialect.name, engine)


def joined(bind: object) -> ReservationService:
    return ReservationService(lambda: SqlAlchemyUnitOfWork(bind))  # type: ignore[arg-type]


def _orders_of(engine: Engine, reservation_id: str) -> int:
    with engine.connect() as connection:
        query = select(func.count()).where(orders.c.reservation_id == reservation_id)
        return int(connection.execute(query).scalar_one())


def test_host_commit_keeps_both_writes(
    engine: Engine, backend: Backend, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    backend.service().create_schedule(sid, 2)
    with engine.begin() as connection:
        booking = joined(connection).create_reservation(sid, "u1")
        connection.execute(insert(orders), {"reservation_id": booking.id})
    assert backend.service().get_reservation(booking.id) == booking
    assert _orders_of(engine, booking.id) == 1
    assert backend.tally(sid).reserved == 1


def test_host_rollback_keeps_neither_and_returns_the_seats(
    engine: Engine, backend: Backend, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    backend.service().create_schedule(sid, 1)

    class PaymentDeclined(Exception):
        pass

    booking_ids: list[str] = []
    with pytest.raises(PaymentDeclined), engine.begin() as connection:
        booking = joined(connection).create_reservation(sid, "u1")
        booking_ids.append(booking.id)
        connection.execute(insert(orders), {"reservation_id": booking.id})
        raise PaymentDeclined
    with pytest.raises(BusinessException) as info:
        backend.service().get_reservation(booking_ids[0])
    assert info.value.code is ErrorCode.RESERVATION_NOT_FOUND
    assert _orders_of(engine, booking_ids[0]) == 0
    tally = backend.tally(sid)
    assert (tally.reserved, tally.consistent) == (0, True)
    assert backend.service().create_reservation(sid, "u2").status is ReservationStatus.CONFIRMED


def test_a_business_error_leaves_the_host_transaction_usable(
    engine: Engine, backend: Backend, new_id: Callable[[str], str]
) -> None:
    sid, full = new_id("s"), new_id("full")
    backend.service().create_schedule(sid, 5)
    backend.service().create_schedule(full, 0)
    with engine.begin() as connection:
        service = joined(connection)
        first = service.create_reservation(sid, "u1")
        refusals = []
        for attempt in (
            lambda: service.create_reservation(sid, "u1"),  # duplicate
            lambda: service.create_reservation(full, "u1"),  # capacity
            lambda: service.create_reservation(new_id("nowhere"), "u1"),  # not found
        ):
            with pytest.raises(BusinessException) as info:
                attempt()
            refusals.append(info.value.code)
        second = service.create_reservation(sid, "u2")
        service.cancel_reservation(second.id)
        with pytest.raises(BusinessException) as info:
            service.cancel_reservation(second.id)
        refusals.append(info.value.code)
        connection.execute(insert(orders), {"reservation_id": first.id})
    assert refusals == [
        ErrorCode.DUPLICATE_RESERVATION,
        ErrorCode.CAPACITY_EXCEEDED,
        ErrorCode.SCHEDULE_NOT_FOUND,
        ErrorCode.RESERVATION_ALREADY_CANCELLED,
    ]
    assert _orders_of(engine, first.id) == 1
    assert backend.service().get_reservation(first.id) == first
    tally = backend.tally(sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (1, 1, True)


def test_the_orm_session_flushes_first_and_sees_the_booking(
    engine: Engine, backend: Backend, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    backend.service().create_schedule(sid, 3)
    with Session(engine) as session, session.begin():
        pending = Order(reservation_id="pending-before-the-booking")
        session.add(pending)
        booking = joined(session).create_reservation(sid, "u1", quantity=2)
        assert pending.id is not None  # flushed before the booking ran
        seen = session.execute(select(reservations.c.status).where(reservations.c.id == booking.id))
        assert seen.scalar_one() == "CONFIRMED"
        session.add(Order(reservation_id=booking.id))
    assert backend.service().get_reservation(booking.id) == booking
    with Session(engine) as session:
        stored = session.scalars(select(Order).where(Order.reservation_id == booking.id)).all()
        assert len(stored) == 1
    with Session(engine) as session, session.begin():
        doomed = joined(session).create_reservation(sid, "u2")
        session.rollback()
    with pytest.raises(BusinessException):
        backend.service().get_reservation(doomed.id)
    assert backend.tally(sid).reserved == 2


def test_the_unit_of_work_never_ends_the_hosts_transaction(
    engine: Engine, backend: Backend, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    backend.service().create_schedule(sid, 2)
    with engine.connect() as connection:
        transaction = connection.begin()
        joined(connection).create_reservation(sid, "u1")
        assert transaction.is_active
        assert not connection.closed
        # Not durable yet: another connection does not see the seat taken.
        assert backend.tally(sid).reserved == 0
        transaction.commit()
    assert backend.tally(sid).reserved == 1


def test_a_hundred_host_transactions_racing_never_overbook(
    engine: Engine, backend: Backend, new_id: Callable[[str], str]
) -> None:
    sid = new_id("race")
    backend.service().create_schedule(sid, 10)
    barrier = threading.Barrier(100)
    outcomes: list[str] = []
    lock = threading.Lock()

    def book(user: int) -> None:
        barrier.wait()
        while True:  # what the docs tell a host to do with a retryable conflict
            try:
                with engine.begin() as connection:
                    booking = joined(connection).create_reservation(sid, f"u{user}")
                    connection.execute(insert(orders), {"reservation_id": booking.id})
                outcome = "ok"
            except BusinessException as error:
                if error.code is ErrorCode.CONCURRENCY_CONFLICT and error.details["retryable"]:
                    continue
                outcome = str(error.code)
            with lock:
                outcomes.append(outcome)
            return

    threads = [threading.Thread(target=book, args=(n,)) for n in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["CAPACITY_EXCEEDED"] * 90 + ["ok"] * 10
    tally = backend.tally(sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (10, 10, True)


_SHORT_LOCK_WAIT = {
    "postgresql": "SET lock_timeout = '100ms'",
    "mysql": "SET SESSION innodb_lock_wait_timeout = 1",
    "sqlite": "PRAGMA busy_timeout = 100",
}


def test_a_transient_conflict_is_retryable_and_leaves_the_host_transaction_usable(
    engine: Engine, backend: Backend, new_id: Callable[[str], str]
) -> None:
    """A lock the booking cannot get in time: not retried inside the host's transaction
    (the library cannot replay the host's statements), but reported as retryable."""
    sid, before, after = new_id("s"), new_id("before"), new_id("after")
    backend.service().create_schedule(sid, 5)
    name = engine.dialect.name
    with engine.connect() as holder, engine.connect() as waiter:
        holder.begin()
        joined(holder).create_reservation(sid, "holder")  # holds the schedule's lock
        waiter.begin()
        waiter.exec_driver_sql(_SHORT_LOCK_WAIT[name])
        if name != "sqlite":  # on SQLite the lock is the database's: no other write either
            waiter.execute(insert(orders), {"reservation_id": before})
        with pytest.raises(BusinessException) as info:
            joined(waiter).create_reservation(sid, "waiter")
        assert info.value.code is ErrorCode.CONCURRENCY_CONFLICT
        assert info.value.details["retryable"] is True
        holder.commit()
        if name != "sqlite":
            waiter.execute(insert(orders), {"reservation_id": after})
            waiter.commit()
            assert (_orders_of(engine, before), _orders_of(engine, after)) == (1, 1)
    tally = backend.tally(sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (1, 1, True)


def test_sqlite_a_booking_inside_the_write_transaction_does_not_wait_on_itself(
    sqlite_engine: Engine, new_id: Callable[[str], str]
) -> None:
    """The host holds SQLite's write lock (it wrote an order): a booking on another
    connection of the same process would wait out the busy timeout on every attempt.
    Joined to the host's connection, it runs at once, in the same transaction."""
    host_metadata.create_all(sqlite_engine)
    backend = sql_backend("sqlite", sqlite_engine)
    sid = new_id("s")
    backend.service().create_schedule(sid, 1)
    with sqlite_engine.begin() as connection:
        connection.execute(insert(orders), {"reservation_id": "order-first"})
        started = time.perf_counter()
        booking = joined(connection).create_reservation(sid, "u1")
        assert time.perf_counter() - started < 1  # the busy timeout is 5 s
    assert backend.service().get_reservation(booking.id) == booking


@pytest.mark.parametrize("database", ["postgresql", "mariadb"])
def test_a_connection_in_autocommit_mode_is_refused_naming_the_fix(
    database: str, request: pytest.FixtureRequest, new_id: Callable[[str], str]
) -> None:
    """Every statement would commit by itself: a booking could be half done, and the host
    could not undo it. Refused before anything is written."""
    engine: Engine = request.getfixturevalue(f"{database}_engine")
    backend = sql_backend(database, engine)
    sid = new_id("s")
    backend.service().create_schedule(sid, 2)
    with engine.connect() as connection:
        autocommitting = connection.execution_options(isolation_level="AUTOCOMMIT")
        with pytest.raises(BusinessException) as info:
            joined(autocommitting).create_reservation(sid, "u1")
    assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert info.value.details == {"reason": "host_connection_autocommits"}
    assert "give SqlAlchemyUnitOfWork the engine" in info.value.message
    assert backend.tally(sid).reserved == 0
