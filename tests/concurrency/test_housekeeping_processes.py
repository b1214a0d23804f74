"""Four processes run ``run_housekeeping`` at once over a backlog, on PostgreSQL and MariaDB.

The backlog is written with Core bulk inserts, not through the service: 10,000 lapsed
holds on 100 schedules, 100,000 events every consumer acknowledged, 1,000 expired
idempotency keys, and beside them what must stay as it is (confirmed bookings, holds not
yet lapsed, events a consumer has not acknowledged, recent events, fresh keys). Every
lapsed hold must be released exactly once (one ``reservation.expired`` event each),
nothing else touched, ``reserved == Σ HELD + CONFIRMED`` on every schedule, and no
transaction may last longer than the bound docs/operating.md states, measured in each
process from entering a unit of work to leaving it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, case, func, insert, literal, select, text

from reservation_core.adapters.sqlalchemy import (
    event_consumers,
    event_deliveries,
    events,
    idempotency_keys,
    metadata,
    reservations,
    schedules,
)
from tests.databases import make_engine, separate_database_url

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
SCHEDULES, LAPSED_PER_SCHEDULE, LASTING_PER_SCHEDULE = 100, 100, 5
ACKED_EVENTS, HALF_ACKED_EVENTS, RECENT_EVENTS = 100_000, 1_000, 1_000
EXPIRED_KEYS, FRESH_KEYS = 1_000, 100
#: The bound docs/operating.md states for one housekeeping transaction (default batch).
LONGEST_TRANSACTION = 3.0
_S, _R, _E, _D, _K = schedules.c, reservations.c, events.c, event_deliveries.c, idempotency_keys.c


@pytest.fixture(params=["postgresql", "mariadb"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    made = make_engine(separate_database_url(request.param, "rc_housekeeping"))
    metadata.drop_all(made)
    metadata.create_all(made)
    yield made
    made.dispose()


def _backlog(engine: Engine, now: datetime) -> None:
    old, later = now - timedelta(days=30), now + timedelta(hours=1)
    rows: dict[str, list[dict[str, Any]]] = {"schedules": [], "reservations": []}
    for s in range(SCHEDULES):
        sid = f"hk-{s:03}"
        mine: list[dict[str, Any]] = []
        for n in range(LAPSED_PER_SCHEDULE):
            lapsed_at = now - timedelta(minutes=1 + (n * 7 + s) % 600)
            mine.append(_reservation(f"l-{s:03}-{n:03}", sid, f"u{n}", "HELD", old, lapsed_at))
        for n in range(LASTING_PER_SCHEDULE):
            mine.append(_reservation(f"h-{s:03}-{n:03}", sid, f"v{n}", "HELD", old, later))
            mine.append(_reservation(f"c-{s:03}-{n:03}", sid, f"w{n}", "CONFIRMED", old, None))
        reserved = sum(r["quantity"] for r in mine)
        rows["schedules"].append({"id": sid, "capacity": reserved + 10, "reserved": reserved})
        rows["reservations"] += mine
    with engine.begin() as connection:
        connection.execute(insert(schedules), rows["schedules"])
        connection.execute(insert(reservations), rows["reservations"])
        kinds = [("acked", ACKED_EVENTS, old), ("half", HALF_ACKED_EVENTS, old)]
        kinds.append(("recent", RECENT_EVENTS, now))
        connection.execute(
            insert(events),  # ids from the table's own sequence, as the library's are
            [
                {
                    "type": "reservation.confirmed",
                    "reservation_id": f"{kind}-{i}",
                    "schedule_id": "gone",
                    "user_id": "u",
                    "quantity": 1,
                    "status": "CONFIRMED",
                    "occurred_at": at,
                }
                for kind, count, at in kinds
                for i in range(count)
            ],
        )
        connection.execute(
            insert(event_consumers),
            [{"consumer": "emails", "claimed_at": old}, {"consumer": "refunds", "claimed_at": old}],
        )
        for consumer in ("emails", "refunds"):
            # Every event acknowledged by "emails"; "refunds" has not acknowledged the
            # half-acknowledged ones.
            picked = select(
                literal(consumer, type_=_D.consumer.type),
                _E.id,
                literal(old, type_=_D.claimed_at.type),
                literal(old, type_=_D.acked_at.type),
            )
            if consumer == "refunds":
                picked = picked.where(~_E.reservation_id.startswith("half-"))
            connection.execute(
                insert(event_deliveries).from_select(
                    ["consumer", "event_id", "claimed_at", "acked_at"], picked
                )
            )
        connection.execute(
            insert(idempotency_keys),
            [
                {
                    "user_id": "k",
                    "key": f"key-{n}",
                    "fingerprint": "f" * 64,
                    "reservation_id": f"c-000-{n % LASTING_PER_SCHEDULE:03}",
                    "created_at": old if n < EXPIRED_KEYS else now,
                }
                for n in range(EXPIRED_KEYS + FRESH_KEYS)
            ],
        )


def _analyze(engine: Engine) -> None:
    """Table statistics, as the database's own background analysis keeps them for tables
    that grew over time: a backlog bulk-loaded a moment ago would otherwise be planned as
    the empty tables it was."""
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            if engine.dialect.name == "postgresql":
                connection.execute(text(f"ANALYZE {table.name}"))
            else:
                connection.execute(text(f"ANALYZE TABLE {table.name}"))


def _reservation(  # noqa: PLR0917 - a row's columns, in order
    rid: str, sid: str, uid: str, status: str, at: datetime, expires_at: datetime | None
) -> dict[str, Any]:
    return {
        "id": rid,
        "schedule_id": sid,
        "user_id": uid,
        "quantity": 1 + len(rid) % 2,
        "status": status,
        "created_at": at,
        "updated_at": at,
        "expires_at": expires_at,
    }


def _run_workers(url: str) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    workers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.concurrency.housekeeping_worker", url],
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for worker in workers:  # a barrier across processes: all connected, then go
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready", worker.stderr
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=600)
            assert worker.returncode == 0, err
            results.append(json.loads(out))
        return results
    finally:
        for worker in workers:
            worker.kill()


def test_four_processes_release_every_lapsed_hold_once_and_purge_in_short_transactions(
    engine: Engine,
) -> None:
    now = datetime.now(UTC)
    _backlog(engine, now)
    _analyze(engine)
    with engine.connect() as connection:
        before = {
            row.id: row
            for row in connection.execute(select(reservations).where(~_R.id.startswith("l-")))
        }

    results = _run_workers(engine.url.render_as_string(hide_password=False))

    lapsed_total = SCHEDULES * LAPSED_PER_SCHEDULE
    assert sum(r["holds_expired"] for r in results) == lapsed_total
    assert sum(r["events_purged"] for r in results) == ACKED_EVENTS
    assert sum(r["idempotency_keys_purged"] for r in results) == EXPIRED_KEYS
    longest = max(r["longest"] for r in results)
    assert longest < LONGEST_TRANSACTION, results
    with engine.connect() as connection:
        statuses = dict(
            connection.execute(
                select(_R.status, func.count()).where(_R.id.startswith("l-")).group_by(_R.status)
            ).all()
        )
        assert statuses == {"EXPIRED": lapsed_total}
        expiries = connection.execute(
            select(_E.reservation_id, func.count())
            .where(_E.type == "reservation.expired")
            .group_by(_E.reservation_id)
        ).all()
        assert len(expiries) == lapsed_total
        assert {count for _, count in expiries} == {1}
        assert all(rid.startswith("l-") for rid, _ in expiries)
        after = {
            row.id: row
            for row in connection.execute(select(reservations).where(~_R.id.startswith("l-")))
        }
        assert after == before  # nothing else touched
        kept = connection.execute(
            select(func.count()).select_from(events).where(_E.type != "reservation.expired")
        ).scalar_one()
        assert kept == HALF_ACKED_EVENTS + RECENT_EVENTS
        left_deliveries = connection.execute(
            select(func.count()).select_from(event_deliveries)
        ).scalar_one()
        assert left_deliveries == HALF_ACKED_EVENTS + 2 * RECENT_EVENTS
        keys = connection.execute(select(func.count()).select_from(idempotency_keys)).scalar_one()
        assert keys == FRESH_KEYS
        active = func.sum(case((_R.status.in_(["HELD", "CONFIRMED"]), _R.quantity), else_=0))
        counts = connection.execute(
            select(_S.id, _S.reserved, func.coalesce(active, 0))
            .select_from(schedules.outerjoin(reservations, _R.schedule_id == _S.id))
            .group_by(_S.id, _S.reserved)
        ).all()
        assert len(counts) == SCHEDULES
        assert all(reserved == held for _, reserved, held in counts), counts
