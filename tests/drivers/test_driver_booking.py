"""The bookings run on the driver itself: MariaDB's one-query script, SQLite's direct calls.

On an engine from ``recommended_engine_options(url, dedicated=True)``, PyMySQL connections
accept several statements in one query, and a booking and its ``COMMIT`` go as one script;
on SQLite a booking is ``BEGIN IMMEDIATE`` … ``COMMIT`` straight on ``sqlite3``. Neither
goes through SQLAlchemy's ``Connection``: these tests check that what they leave behind
is exactly what the statement-by-statement booking leaves, errors included.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from reservation_core import (
    BusinessException,
    ErrorCode,
    Reservation,
    ReservationService,
    ReservationStatus,
)
from reservation_core.adapters.sqlalchemy import (
    SqlAlchemyUnitOfWork,
    events,
    recommended_engine_options,
)
from reservation_core.adapters.sqlalchemy._dialects import rules_for
from tests.backends import sql_backend
from tests.concurrency.race import outcomes, race
from tests.conftest import _fresh_schema
from tests.databases import make_engine, separate_database_url

ENGINES = ["mariadb-script", "mariadb-script-session-isolation", "sqlite"]
#: The group tests run on PostgreSQL too: its group is one statement of its own.
GROUP_ENGINES = [*ENGINES, "postgresql"]
on_every_group_path = pytest.mark.parametrize("engine", GROUP_ENGINES, indirect=True)


@pytest.fixture(scope="module", params=ENGINES)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("driver-booking") / "r.sqlite3"
        made = make_engine(f"sqlite:///{path}")
    elif request.param == "postgresql":  # the groups' one statement
        url = separate_database_url("postgresql", "_driver_booking")
        made = make_engine(url, **recommended_engine_options(url, dedicated=True))
    else:
        url = separate_database_url("mariadb", "_driver_booking")
        options: dict[str, Any] = recommended_engine_options(url, dedicated=True)
        if request.param.endswith("session-isolation"):
            # The server's REPEATABLE READ: the script sets READ COMMITTED itself.
            del options["isolation_level"]
        made = make_engine(url, **options)
    yield _fresh_schema(made)
    made.dispose()


@pytest.fixture
def service(engine: Engine) -> ReservationService:
    return ReservationService(
        lambda: SqlAlchemyUnitOfWork(engine), retry_backoff=0.001, max_attempts=30
    )


def _open_transactions(engine: Engine) -> list[bool]:
    """Whether each idle pooled connection still has a transaction open in the server."""
    if engine.dialect.name == "sqlite":
        pooled = [engine.raw_connection() for _ in range(1)]
        found = [bool(c.driver_connection.in_transaction) for c in pooled]  # type: ignore[union-attr]
    elif engine.dialect.name == "postgresql":  # psycopg: the connection's own status
        pooled = [engine.raw_connection() for _ in range(3)]
        found = [c.driver_connection.info.transaction_status != 0 for c in pooled]  # type: ignore[union-attr]
    else:
        pooled = [engine.raw_connection() for _ in range(3)]
        found = []
        for connection in pooled:
            cursor = connection.cursor()
            cursor.execute("SELECT @@in_transaction")
            found.append(bool(cursor.fetchone()[0]))
            cursor.close()
    for connection in pooled:
        connection.close()
    return found


def test_the_engine_takes_the_driver_path(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        return  # every SQLite booking does
    rules: Any = rules_for(engine.dialect)
    with engine.connect() as connection:
        assert rules.multi_statements(connection.connection.driver_connection)


def test_a_booking_stores_the_reservation_its_event_and_the_seat(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    schedule = service.create_schedule(new_id("s"), capacity=2).id
    booking = service.create_reservation(schedule, "ann")
    assert service.get_reservation(booking.id) == booking
    with engine.connect() as connection:
        logged = connection.execute(
            select(func.count()).select_from(events).where(events.c.reservation_id == booking.id)
        ).scalar_one()
    assert logged == 1
    tally = sql_backend("t", engine).tally(schedule)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (1, 1, True)
    assert not any(_open_transactions(engine))


def test_a_full_schedule_refuses_and_leaves_nothing_open(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    schedule = service.create_schedule(new_id("s"), capacity=1).id
    service.create_reservation(schedule, "ann")
    with pytest.raises(BusinessException) as refused:
        service.create_reservation(schedule, "bob")
    assert refused.value.code is ErrorCode.CAPACITY_EXCEEDED
    assert sql_backend("t", engine).tally(schedule).reserved == 1
    assert not any(_open_transactions(engine))


def test_a_duplicate_rolls_the_taken_seat_back(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    # The seat is taken by the script's UPDATE before the reservation's INSERT fails.
    schedule = service.create_schedule(new_id("s"), capacity=5).id
    service.create_reservation(schedule, "ann")
    with pytest.raises(BusinessException) as refused:
        service.create_reservation(schedule, "ann")
    assert refused.value.code is ErrorCode.DUPLICATE_RESERVATION
    tally = sql_backend("t", engine).tally(schedule)
    assert (tally.reserved, tally.consistent) == (1, True)
    assert not any(_open_transactions(engine))
    service.create_reservation(schedule, "bob")  # and the connections still work
    assert sql_backend("t", engine).tally(schedule).reserved == 2


def test_a_hold_and_its_confirmation(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    schedule = service.create_schedule(new_id("s"), capacity=1).id
    hold = service.hold_reservation(schedule, "ann")
    assert service.get_reservation(hold.id).expires_at == hold.expires_at
    service.confirm_reservation(hold.id)
    tally = sql_backend("t", engine).tally(schedule)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (1, 1, True)


def test_racing_bookings_never_oversell(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    schedule = service.create_schedule(new_id("s"), capacity=5).id
    results = race(
        [lambda user=f"u{i}": service.create_reservation(schedule, user) for i in range(12)]
    )
    assert outcomes(results) == {"ok": 5, "CAPACITY_EXCEEDED": 7}
    tally = sql_backend("t", engine).tally(schedule)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (5, 5, True)


def _one_connection_engine(engine: Engine) -> Engine:
    """A dedicated engine on ``engine``'s database whose pool holds one connection."""
    url = engine.url.render_as_string(hide_password=False)
    return make_engine(url, pool_size=1, **recommended_engine_options(url, dedicated=True))


def _kill_its_connection(lean: Engine, admin_engine: Engine) -> None:
    """End the server session of ``lean``'s pooled connection, from another connection."""
    postgres = lean.dialect.name == "postgresql"
    with lean.connect() as connection:
        whoami = "SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()"
        victim = int(connection.execute(text(whoami)).scalar_one())
    with admin_engine.connect() as admin:
        kill = f"SELECT pg_terminate_backend({victim})" if postgres else f"KILL {victim}"
        admin.execute(text(kill))
        admin.commit()


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "sqlite"], indirect=True)
def test_a_lost_connection_is_an_unknown_outcome_and_never_pooled_again(
    engine: Engine, new_id: Callable[[str], str]
) -> None:
    """On MariaDB (SQLite has no connection to lose)."""
    lean = _one_connection_engine(engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(lean), retry_backoff=0.001)
    schedule = service.create_schedule(new_id("s"), capacity=5).id
    _kill_its_connection(lean, engine)  # the pool's only one, the next booking's
    with pytest.raises(BusinessException) as lost:
        service.create_reservation(schedule, "ann")
    assert (lost.value.code, lost.value.details) == (
        ErrorCode.STORAGE_UNAVAILABLE,
        {"outcome": "unknown"},
    )
    service.create_reservation(schedule, "bob")  # on a fresh connection
    tally = sql_backend("t", lean).tally(schedule)
    assert (tally.reserved, tally.consistent) == (1, True)
    lean.dispose()


def _group(*asks: tuple[str, str, int]) -> list[Reservation]:
    """Confirmed reservations, one per ``(schedule_id, user_id, quantity)``, made now."""
    now = datetime.now(UTC)
    made = {"status": ReservationStatus.CONFIRMED, "created_at": now, "updated_at": now}
    return [
        Reservation(str(uuid.uuid4()), schedule, user, quantity, **made)  # type: ignore[arg-type]
        for schedule, user, quantity in asks
    ]


@on_every_group_path
def test_a_group_over_several_schedules_is_decided_as_one_by_one(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    """The group's own path (on MariaDB two scripts), every rule at once, exactly."""
    a, b = service.create_schedule(new_id("a"), 3).id, service.create_schedule(new_id("b"), 2).id
    service.create_reservation(b, "cat")
    group = _group(
        (b, "ann", 1),  # fits: b has 1 left
        (a, "ann", 2),  # fits: another schedule, the same user
        (a, "ann", 1),  # the user's second on a: refused
        (b, "cat", 1),  # active on b already: refused
        (a, "dan", 1),  # fits, the last seat of a
        (a, "bob", 2),  # a is full: refused
        (new_id("missing"), "eve", 1),  # no such schedule: refused
        (b, "fay", 1),  # b is full now: refused
    )
    with SqlAlchemyUnitOfWork(engine) as uow:
        booked = uow.add_group_and_commit(group)
    assert booked == [True, True, False, False, True, False, False, False]
    for schedule, reserved in ((a, 3), (b, 2)):
        tally = sql_backend("t", engine).tally(schedule)
        assert (tally.reserved, tally.consistent) == (reserved, True)
    stored = [service.get_reservation(r.id) for r, ok in zip(group, booked, strict=True) if ok]
    assert [(r.schedule_id, r.user_id, r.quantity) for r in stored] == [
        (b, "ann", 1),
        (a, "ann", 2),
        (a, "dan", 1),
    ]
    with engine.connect() as connection:
        logged = connection.execute(
            select(events.c.reservation_id)
            .where(events.c.reservation_id.in_([r.id for r in stored]))
            .order_by(events.c.id)
        ).scalars()
        assert list(logged) == [r.id for r in stored]  # one each, in arrival order
    assert not any(_open_transactions(engine))


@on_every_group_path
def test_a_group_that_fits_whole_is_booked_whole(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    """The common case: every member fits (on MariaDB the all-fit script)."""
    a, b = service.create_schedule(new_id("a"), 10).id, service.create_schedule(new_id("b"), 3).id
    group = _group((b, "ann", 1), (a, "ann", 2), (a, "bob", 1), (b, "bob", 2), (a, "cat", 3))
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.add_group_and_commit(group) == [True] * 5
    for schedule, reserved, count in ((a, 6, 3), (b, 3, 2)):
        tally = sql_backend("t", engine).tally(schedule)
        assert (tally.reserved, tally.confirmed_count, tally.consistent) == (reserved, count, True)
    assert [service.get_reservation(r.id) for r in group] == group
    with engine.connect() as connection:
        logged = connection.execute(
            select(events.c.reservation_id, events.c.quantity)
            .where(events.c.reservation_id.in_([r.id for r in group]))
            .order_by(events.c.id)
        ).all()
    assert [tuple(row) for row in logged] == [(r.id, r.quantity) for r in group]
    assert not any(_open_transactions(engine))


@on_every_group_path
def test_a_group_that_books_nobody_leaves_nothing_open(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    a = service.create_schedule(new_id("a"), 1).id
    service.create_reservation(a, "ann")
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.add_group_and_commit(_group((a, "ann", 1), (a, "bob", 1))) == [False, False]
    assert sql_backend("t", engine).tally(a).reserved == 1
    assert not any(_open_transactions(engine))
    service.create_reservation(service.create_schedule(new_id("b"), 1).id, "bob")  # unlocked


@on_every_group_path
def test_racing_bookings_over_schedules_never_oversell(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    schedules = [service.create_schedule(new_id(f"s{n}"), 4).id for n in range(3)]
    results = race(
        [lambda i=i: service.create_reservation(schedules[i % 3], f"u{i % 20}") for i in range(30)]
    )
    assert outcomes(results) == {"ok": 12, "CAPACITY_EXCEEDED": 18}
    for schedule in schedules:
        tally = sql_backend("t", engine).tally(schedule)
        assert (tally.reserved, tally.confirmed_count, tally.consistent) == (4, 4, True)
    assert not any(_open_transactions(engine))


@pytest.mark.parametrize("engine", ["mariadb-script", "postgresql"], indirect=True)
def test_a_group_on_a_lost_connection_is_an_unknown_outcome_and_never_pooled_again(
    engine: Engine, new_id: Callable[[str], str]
) -> None:
    """The group's one script or statement is its own commit: lost, its outcome is unknown."""
    lean = _one_connection_engine(engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(lean), retry_backoff=0.001)
    a = service.create_schedule(new_id("a"), 5).id
    _kill_its_connection(lean, engine)  # the pool's only one, the group's
    with SqlAlchemyUnitOfWork(lean) as uow, pytest.raises(BusinessException) as lost:
        uow.add_group_and_commit(_group((a, "ann", 1), (a, "bob", 1)))
    assert (lost.value.code, lost.value.details) == (
        ErrorCode.STORAGE_UNAVAILABLE,
        {"outcome": "unknown"},
    )
    with SqlAlchemyUnitOfWork(lean) as uow:  # on a fresh connection
        assert uow.add_group_and_commit(_group((a, "cat", 1), (a, "dan", 1))) == [True, True]
    tally = sql_backend("t", lean).tally(a)
    assert (tally.reserved, tally.consistent) == (2, True)
    lean.dispose()


@on_every_group_path
def test_a_group_keeps_every_id_exactly_as_given(
    engine: Engine, service: ReservationService, new_id: Callable[[str], str]
) -> None:
    """Quotes, backslashes, ``%``, characters beyond the BMP, case and trailing spaces.

    On MariaDB the group travels as JSON (surrogate pairs, escapes) and is compared in the
    tables' binary NO PAD collation: ``"a"``, ``"A"`` and ``"a "`` are three users.
    """
    schedule = service.create_schedule(new_id('s "😀" \\ %s é'), 30).id
    users = ["😀", 'a"b', "back\\slash", "%s", "%(at)s", "中文", "a", "A", "a "]
    with SqlAlchemyUnitOfWork(engine) as uow:  # the all-fit path on MariaDB
        assert uow.add_group_and_commit(_group(*((schedule, u, 1) for u in users))) == [True] * len(
            users
        )
    with SqlAlchemyUnitOfWork(engine) as uow:  # the deciding path: one is active already
        assert uow.add_group_and_commit(_group((schedule, "😀", 1), (schedule, "😀 ", 2))) == [
            False,
            True,
        ]
    booked = service.list_reservations(schedule_id=schedule, limit=100).items
    assert sorted(r.user_id for r in booked) == sorted([*users, "😀 "])
    tally = sql_backend("t", engine).tally(schedule)
    assert (tally.reserved, tally.consistent) == (len(users) + 2, True)
