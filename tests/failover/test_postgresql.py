"""The PostgreSQL failover storm: Patroni promotes the replica while clients book.

The primary's postmaster is killed (SIGKILL) mid-storm; Patroni (primary_start_timeout 0)
promotes the synchronous standby. The clients reach the cluster through one multi-host URL
(``host=a&host=b&target_session_attrs=read-write``), or through HAProxy routing by Patroni's
health check, and are never restarted.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.failover.conftest import ROOT, cluster, report
from tests.failover.storm import Storm

PATRONI = ROOT / "scripts" / "patroni.sh"
THREADS = 8


@pytest.fixture(params=["postgresql", "haproxy"], ids=["multi-host-url", "haproxy"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = cluster(request.param)
    # A standby again for the old primary, after an earlier storm (bounded).
    _patroni("wait-healthy", "90")
    engine = create_engine(
        url,
        pool_pre_ping=True,  # a connection to the dead primary is replaced, not used
        pool_size=THREADS,
        max_overflow=0,
        pool_timeout=30,
    )
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _patroni(*args: str) -> str:
    done = subprocess.run(  # noqa: S603 - the project's own script
        [str(PATRONI), *args], check=True, capture_output=True, text=True, timeout=120
    )
    return done.stdout.strip()


def test_a_promoted_replica_has_every_acknowledged_booking(
    engine: Engine, request: pytest.FixtureRequest
) -> None:
    with engine.connect() as connection:
        synchronous = bool(connection.execute(text("SHOW synchronous_standby_names")).scalar())
    run_id = f"pg-{uuid.uuid4().hex[:8]}"
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    schedule_ids = [f"{run_id}-s{n}" for n in range(4)]
    for schedule_id in schedule_ids:
        service.create_schedule(schedule_id, 1_000_000)
    killed: list[str] = []
    promoted: list[str] = []
    storm = Storm([service], schedule_ids, run_id)

    def kill_the_primary() -> None:
        killed.append(json.loads(_patroni("kill-primary"))["killed"])
        promoted.append(_patroni("wait-primary", "60", killed[0]))  # Patroni's view

    storm.run(THREADS, kill_the_primary)

    resolved = storm.resolve(service)  # the same process, the same engine and service
    findings = storm.check(engine, resolved)
    report(
        f"postgresql via {request.node.callspec.id}",
        {
            **findings.summary(),
            "replication": "synchronous" if synchronous else "asynchronous",
            "killed": killed,
            "new_primary": promoted,
        },
    )
    assert promoted[0] not in ("", killed[0])
    # The storm waited for calls begun after the promotion to be served: by the new
    # primary, the old one being dead. (Through HAProxy a client may see no error at all:
    # its connections wait in HAProxy while the new primary comes up.)
    assert findings.served_after_failover[0] > 0
    assert findings.duplicates == []
    assert findings.audit_consistent
    if synchronous:  # asynchronous replication may lose acknowledged commits: reported only
        assert findings.lost == []
        assert findings.wrong_status == []
        # (A cancel repeated after the failover finds no reservation if the booking
        # was lost: with asynchronous replication only.)
        assert findings.unexpected == []
