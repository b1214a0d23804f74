"""The Galera node-loss storm: one of three nodes is killed (SIGKILL) while clients book.

Each group of clients prefers one node and moves to the next that answers when its node is
gone (a list of hosts tried in order when the pool connects: what a client-side failover
list or a proxy such as HAProxy or MaxScale does for them). No client is restarted.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL, Engine, create_engine, event, make_url, text

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import (
    SqlAlchemyUnitOfWork,
    metadata,
    recommended_engine_options,
)
from tests.failover.conftest import cluster, report
from tests.failover.storm import Storm

THREADS_PER_NODE = 3


def node_engine(urls: list[URL], first: int) -> Engine:
    """An engine whose connections go to node ``first``, or to the next one that answers."""
    ordered = urls[first:] + urls[:first]
    engine = create_engine(
        ordered[0],
        pool_pre_ping=True,  # a connection to the dead node is replaced, not used
        pool_size=THREADS_PER_NODE,
        max_overflow=0,
        pool_timeout=30,
        **recommended_engine_options(ordered[0]),
    )

    @event.listens_for(engine, "do_connect")
    def first_node_that_answers(dialect: Any, _record: object, cargs: Any, cparams: Any) -> Any:
        refused: Exception | None = None
        for url in ordered:
            try:
                return dialect.loaded_dbapi.connect(
                    *cargs, **{**cparams, "host": url.host, "port": url.port, "connect_timeout": 2}
                )
            except dialect.loaded_dbapi.OperationalError as error:
                refused = error
        assert refused is not None
        raise refused

    @event.listens_for(engine, "connect")
    def read_your_writes(dbapi_connection: Any, _record: object) -> None:
        # Reads wait until this node has applied every write set committed before them:
        # a booking made on one node is seen by a cancel that lands on another.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET SESSION wsrep_sync_wait = 1")

    return engine


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    urls = [make_url(url.strip()) for url in cluster("galera").split(",")]
    assert len(urls) == 3, "the Galera storm needs the three nodes' URLs"
    engines = [node_engine(urls, first) for first in range(len(urls))]
    metadata.create_all(engines[0])
    yield engines
    for engine in engines:
        engine.dispose()


def _cluster_size(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SHOW STATUS LIKE 'wsrep_cluster_size'")).one()[1])


def _kill_node(engine: Engine, survivor: Engine) -> str:
    """SIGKILL the mariadbd ``engine`` prefers, as a crashed host would; return once the
    surviving nodes have evicted it (a view of two), bounded."""
    with engine.connect() as connection:
        node = connection.execute(text("SELECT @@wsrep_node_name")).scalar_one()
        pid_file = connection.execute(text("SELECT @@pid_file")).scalar_one()
    os.kill(int(Path(pid_file).read_text().split()[0]), signal.SIGKILL)
    deadline = time.monotonic() + 60
    while _cluster_size(survivor) != 2:
        assert time.monotonic() < deadline, "the surviving nodes never evicted the dead one"
        time.sleep(0.2)
    return str(node)


def test_losing_a_galera_node_loses_no_acknowledged_booking(engines: list[Engine]) -> None:
    run_id = f"galera-{uuid.uuid4().hex[:8]}"
    services = [ReservationService(lambda e=e: SqlAlchemyUnitOfWork(e)) for e in engines]
    schedule_ids = [f"{run_id}-s{n}" for n in range(4)]
    for schedule_id in schedule_ids:
        services[1].create_schedule(schedule_id, 1_000_000)
    killed: list[str] = []
    storm = Storm(services, schedule_ids, run_id)

    storm.run(
        THREADS_PER_NODE * len(engines),
        lambda: killed.append(_kill_node(engines[0], survivor=engines[1])),
    )

    resolved = storm.resolve(services[0])  # node 1's clients, now on another node
    findings = storm.check(engines[1], resolved)
    size = _cluster_size(engines[1])
    report("galera", {**findings.summary(), "killed": killed, "cluster_size_after": size})
    assert killed == ["node1"]
    assert size == 2
    assert findings.unexpected == []
    # Node 1's clients went on booking, on the other nodes (the storm waits for it).
    assert findings.served_after_failover[0] > 0
    assert findings.lost == []
    assert findings.wrong_status == []
    assert findings.duplicates == []
    assert findings.audit_consistent
