"""The library on a 3-node MariaDB Galera cluster (multi-primary, synchronous replication).

Writes go to every node at once. Two nodes may change the same row at the same time: the
one certified second fails at COMMIT with error 1213, having written nothing, and the
service runs the whole use case again. A node applies the others' commits a moment after
they return; the unit of work's sessions wait for them (``wsrep_sync_wait``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from reservation_core import BusinessException, Reservation, ReservationService
from reservation_core.adapters.sqlalchemy import (
    SqlAlchemyUnitOfWork,
    recommended_engine_options,
    reservations,
)
from reservation_core.ports import TransientConflict
from tests.backends import sql_backend
from tests.databases import make_engine
from tests.scaleout.fleet import Fleet
from tests.scaleout.rounds import audit_is_clean, hot_rounds, storm_rounds, summary


def conflicts(engines: list[Engine]) -> int:
    """Certification failures and brute-force aborts, summed over the nodes."""
    total = 0
    for engine in engines:
        with engine.connect() as connection:
            total += sum(
                int(value)
                for _name, value in connection.execute(
                    text(
                        "SHOW STATUS WHERE Variable_name IN "
                        "('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')"
                    )
                )
            )
    return total


@pytest.fixture
def plain_engines(galera_urls: list[str]) -> Iterator[list[Engine]]:
    """Engines as a host makes them, without any Galera option: out of the box."""
    engines = [make_engine(url) for url in galera_urls]
    yield engines
    for engine in engines:
        engine.dispose()


def test_a_certification_conflict_at_commit_is_retried_and_wrote_nothing(
    plain_engines: list[Engine], galera_engines: list[Engine], new_id: Callable[[str], str]
) -> None:
    elsewhere = ReservationService(lambda: SqlAlchemyUnitOfWork(plain_engines[0]))
    sid = new_id("cert")
    elsewhere.create_schedule(sid, 10)
    attempts: list[str] = []
    at_commit: list[BaseException | None] = []

    class AnotherNodeCommitsFirst(SqlAlchemyUnitOfWork):
        """Node 2's booking; before its first COMMIT, node 1 commits to the same row."""

        def add_reservation_and_commit(self, reservation: Reservation) -> bool:
            attempts.append(reservation.id)
            return super().add_reservation_and_commit(reservation)

        def commit(self) -> None:
            if len(attempts) == 1 and not at_commit:
                elsewhere.change_capacity(sid, 11)
            try:
                super().commit()
            except TransientConflict as conflict:
                at_commit.append(conflict.__cause__)
                raise

    service = ReservationService(lambda: AnotherNodeCommitsFirst(plain_engines[1]))
    before = conflicts(galera_engines)
    reservation = service.create_reservation(sid, "alice")

    # The first attempt failed at COMMIT with 1213, a certification conflict ...
    assert len(at_commit) == 1
    assert getattr(at_commit[0], "orig", None) is not None
    assert at_commit[0].orig.args[0] == 1213  # type: ignore[union-attr]
    assert conflicts(galera_engines) > before
    # ... the outcome was known (no STORAGE_UNAVAILABLE): the use case ran again and won.
    assert attempts == [attempts[0], reservation.id]
    # The first attempt wrote nothing, on any node; node 1's change stands.
    for engine in galera_engines:
        with engine.connect() as connection:
            lost = connection.execute(
                select(func.count()).where(reservations.c.id == attempts[0])
            ).scalar_one()
        assert lost == 0
        tally = sql_backend("node", engine).tally(sid)
        assert (tally.capacity, tally.reserved, tally.confirmed_count) == (11, 1, 1)
    assert service.get_reservation(reservation.id) == reservation


def test_a_read_on_another_node_sees_a_booking_just_made(
    galera_urls: list[str], plain_engines: list[Engine], new_id: Callable[[str], str]
) -> None:
    writer = ReservationService(lambda: SqlAlchemyUnitOfWork(plain_engines[0]))
    reader = ReservationService(lambda: SqlAlchemyUnitOfWork(plain_engines[2]))
    sid = new_id("causal")
    writer.create_schedule(sid, 5)
    reader.get_schedule(sid)
    # A session of node 3's own with wsrep_sync_wait = 0, the server's default; a global
    # read lock on it stops node 3 from applying the other nodes' commits meanwhile.
    raw = make_engine(galera_urls[2], pool_size=2)
    outcome: list[Any] = []
    with raw.connect() as paused, raw.connect() as watcher:
        paused.exec_driver_sql("FLUSH TABLES WITH READ LOCK")
        try:
            reservation = writer.create_reservation(sid, "alice")
            # Without waiting, a read on node 3 misses the booking node 1 just committed.
            stale = paused.execute(
                select(reservations.c.id).where(reservations.c.id == reservation.id)
            ).first()
            assert stale is None

            def read() -> None:
                try:
                    outcome.append(reader.get_reservation(reservation.id))
                except BusinessException as error:
                    outcome.append(error)

            thread = threading.Thread(target=read)
            thread.start()
            # The library's read must be waiting on node 3, not answering from stale data.
            waiting = 0
            while thread.is_alive() and not waiting:
                thread.join(timeout=0.05)
                waiting = watcher.exec_driver_sql(
                    "SELECT COUNT(*) FROM information_schema.processlist "
                    "WHERE id <> CONNECTION_ID() AND info LIKE '%%FROM rc_reservations%%'"
                ).scalar_one()
            assert waiting, f"the read did not wait for node 3 to catch up: {outcome}"
        finally:
            paused.exec_driver_sql("UNLOCK TABLES")
    thread.join(timeout=60)
    raw.dispose()
    assert outcome == [reservation]


def test_a_galera_session_waits_for_causality_with_the_engine_option(
    galera_urls: list[str],
) -> None:
    """``galera=True`` sets it for every session of the engine, the host's queries too."""
    url = galera_urls[2]
    engine = make_engine(url, **recommended_engine_options(url, galera=True))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT @@session.wsrep_sync_wait").scalar() == 3
    engine.dispose()


@pytest.fixture(scope="module")
def fleet(galera_urls: list[str]) -> Iterator[Fleet]:
    """4 host processes x 25 threads, clients spread over the nodes, the documented options."""
    with Fleet(galera_urls, recommended_engine_options(galera_urls[0], dedicated=True)) as fleet:
        yield fleet


def test_hundred_clients_in_four_processes_over_three_nodes_book_exactly_ten(
    fleet: Fleet, galera_engines: list[Engine], new_id: Callable[[str], str]
) -> None:
    before = conflicts(galera_engines)
    rounds = hot_rounds(fleet, galera_engines, new_id)
    assert sum(r.give_ups for r in rounds) == 0
    print(summary("galera hot", rounds, conflicts=conflicts(galera_engines) - before))


def test_a_four_process_storm_leaves_every_node_consistent(
    fleet: Fleet,
    galera_urls: list[str],
    galera_engines: list[Engine],
    new_id: Callable[[str], str],
) -> None:
    before = conflicts(galera_engines)
    rounds = storm_rounds(fleet, galera_engines, new_id)
    assert sum(r.give_ups for r in rounds) == 0
    for url in galera_urls:
        audit_is_clean(url)
    print(summary("galera storm", rounds, conflicts=conflicts(galera_engines) - before))
