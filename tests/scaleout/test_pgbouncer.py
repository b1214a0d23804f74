"""The library on PostgreSQL behind PgBouncer in transaction pooling mode.

Each transaction may run on another server connection. psycopg's automatic prepared
statements (made after five runs of a statement, then run by name) break there: the name
is unknown on the next server connection, or names another client's statement. The unit
of work finds the pooler and switches them off on its connections; the engine option
``pgbouncer=True`` does it for every connection of the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, Integer, bindparam, select
from sqlalchemy import exc as sa_exc

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import (
    SqlAlchemyUnitOfWork,
    audit,
    recommended_engine_options,
)
from tests.databases import database_url, make_engine
from tests.scaleout.fleet import Fleet
from tests.scaleout.rounds import audit_is_clean, hot_rounds, storm_rounds, summary

CLIENTS = 40
QUERIES = 25


def host_queries(engine: Engine) -> dict[str, int]:
    """The host's own statements, each run often enough for psycopg to prepare it.

    Two statements of the same shape, one per half of the clients, so that a statement run
    under another client's name shows as a wrong answer, not only as an error.
    """
    doubled = select(bindparam("n", type_=Integer) * 2)
    tripled = select(bindparam("n", type_=Integer) * 3)
    counts = {"right": 0, "wrong": 0, "errors": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def client(number: int) -> None:
        statement, factor = (doubled, 2) if number % 2 else (tripled, 3)
        barrier.wait()
        for n in range(QUERIES):
            try:
                with engine.connect() as connection:
                    answer = connection.execute(statement, {"n": n}).scalar()
                    connection.commit()
                outcome = "right" if answer == n * factor else "wrong"
            except sa_exc.DBAPIError:
                outcome = "errors"
            with lock:
                counts[outcome] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def test_without_the_option_a_hosts_own_prepared_statements_break(pgbouncer_url: str) -> None:
    """The hazard is real on this setup: what the library must (and does) avoid."""
    engine = make_engine(pgbouncer_url, pool_size=CLIENTS)
    counts = host_queries(engine)
    engine.dispose()
    assert counts["errors"] + counts["wrong"] > 0, counts


def test_with_the_option_a_hosts_own_statements_are_right(pgbouncer_url: str) -> None:
    options = recommended_engine_options(pgbouncer_url, pgbouncer=True)
    assert options == {"connect_args": {"prepare_threshold": None}}
    engine = make_engine(pgbouncer_url, pool_size=CLIENTS, **options)
    counts = host_queries(engine)
    engine.dispose()
    assert counts == {"right": CLIENTS * QUERIES, "wrong": 0, "errors": 0}


# postgresql_engine: the direct database's rc_ tables, made afresh as for every suite (alone,
# on a fresh database, this folder would otherwise find none there).
@pytest.mark.usefixtures("postgresql_engine")
def test_the_unit_of_work_switches_prepares_off_behind_the_pooler_only(
    pgbouncer_url: str, new_id: Callable[[str], str]
) -> None:
    """Through PgBouncer its connections stop preparing; direct ones keep psycopg's default."""
    for url, expected in ((pgbouncer_url, None), (database_url("postgresql"), 5)):
        engine = make_engine(url, pool_size=1)
        try:
            service = ReservationService(lambda engine=engine: SqlAlchemyUnitOfWork(engine))
            sid = new_id("prepare")
            service.create_schedule(sid, 10)
            for n in range(10):  # past psycopg's threshold of five runs
                service.create_reservation(sid, f"u{n}")
            with engine.connect() as connection:
                driver: Any = connection.connection.driver_connection
                threshold = driver.prepare_threshold
        finally:
            engine.dispose()
        assert threshold == expected, url


def test_many_transactions_through_pgbouncer_never_fail_nor_drift(
    pgbouncer_url: str, checker: Engine, new_id: Callable[[str], str]
) -> None:
    """Out of the box, under the load that breaks prepared statements: no error, no drift.

    4 processes x 25 threads, 40 calls each, every one of them committing, all let through
    at once (no admission queue): many transactions on every server connection.
    """
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(checker))
    schedules = [new_id("churn") for _ in range(3)]
    for sid in schedules:
        service.create_schedule(sid, 1000)
    with Fleet([pgbouncer_url], service_options={"max_concurrent_per_schedule": None}) as busy:
        result = busy.churn(schedules, operations=40)
    assert result.outcomes == {"ok": len(result.calls)}, result.outcomes
    report = audit(checker, schedule_ids=schedules)
    assert report.consistent, report
    assert [service.get_schedule(sid).reserved for sid in schedules] == [0, 0, 0]


@pytest.fixture(scope="module")
def fleet(pgbouncer_url: str) -> Iterator[Fleet]:
    """4 host processes x 25 threads through PgBouncer, engines with no option at all."""
    with Fleet([pgbouncer_url]) as fleet:
        yield fleet


@pytest.fixture(scope="module")
def checker(pgbouncer_url: str) -> Iterator[Engine]:
    engine = make_engine(pgbouncer_url, **recommended_engine_options(pgbouncer_url, pgbouncer=True))
    yield engine
    engine.dispose()


def test_hundred_clients_in_four_processes_through_pgbouncer_book_exactly_ten(
    fleet: Fleet, checker: Engine, new_id: Callable[[str], str]
) -> None:
    rounds = hot_rounds(fleet, [checker], new_id)
    assert sum(r.give_ups for r in rounds) == 0
    print(summary("pgbouncer hot", rounds))


def test_a_four_process_storm_through_pgbouncer_stays_consistent(
    fleet: Fleet, pgbouncer_url: str, checker: Engine, new_id: Callable[[str], str]
) -> None:
    rounds = storm_rounds(fleet, [checker], new_id)
    assert sum(r.give_ups for r in rounds) == 0
    audit_is_clean(pgbouncer_url)
    print(summary("pgbouncer storm", rounds))
