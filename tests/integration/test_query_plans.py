"""The queries of holds and pages are served by indexes, on every database (EXPLAIN).

The test tables are small, so PostgreSQL's planner would rightly scan them and sort: it is
told not to (``enable_seqscan`` and ``enable_bitmapscan`` off), which shows the plan a large
table gets. MariaDB and SQLite get skewed rows and fresh statistics and choose by themselves.
``pytest -rP`` prints every plan.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, insert, update

from reservation_core.adapters.sqlalchemy import _statements as sql
from reservation_core.adapters.sqlalchemy import reservations, schedules
from reservation_core.adapters.sqlalchemy.tables import waitlist_entries

PAGE_BY_SCHEDULE = "ix_rc_reservations_schedule_id_created_at_id"
PAGE_BY_USER = "ix_rc_reservations_user_id_created_at_id"
SWEEP = "ix_rc_reservations_status_expires_at_schedule_id"
START = datetime(2026, 1, 1, tzinfo=UTC)
PARAMS = {
    "schedule_id": "plan-s-7",
    "user_id": "plan-u-3",
    "status": "HELD",
    "after_created_at": START,
    "after_id": "00000000-0000-0000-0000-000000000000",
    "limit": 51,
    "at": START + timedelta(hours=1),
}
QUERIES = [
    pytest.param(sql.page(True, False, False, True), PAGE_BY_SCHEDULE, id="page-by-schedule"),
    pytest.param(sql.page(True, False, True, True), PAGE_BY_SCHEDULE, id="page-by-status"),
    pytest.param(sql.page(False, True, False, True), PAGE_BY_USER, id="page-by-user"),
    pytest.param(sql.page(True, True, False, False), None, id="page-user-on-schedule"),
    pytest.param(sql.SCHEDULES_WITH_LAPSED_HOLDS, SWEEP, id="sweep"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def filled(request: pytest.FixtureRequest) -> Engine:
    """A database with 3000 reservations over 40 schedules and 60 users, analyzed."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    run = uuid.uuid4().hex[:8]
    with engine.begin() as connection:
        existing = connection.execute(
            schedules.select().where(schedules.c.id == "plan-s-0")
        ).first()
        if existing is None:
            connection.execute(
                insert(schedules),
                [{"id": f"plan-s-{n}", "capacity": 10_000, "reserved": 0} for n in range(40)],
            )
        rows = []
        for n in range(3000):
            at = START + timedelta(seconds=n)
            held = n % 5 == 0
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    # Skewed, as real data is: one busy schedule and one busy user.
                    "schedule_id": "plan-s-7" if n % 4 else f"plan-s-{n % 40}",
                    # One active reservation per user and schedule: holds get users of their own.
                    "user_id": f"plan-h-{n}-{run}" if held else f"plan-u-{n % 2 * 3}",
                    "quantity": 1,
                    "status": "HELD" if held else "CANCELLED",
                    "created_at": at,
                    "updated_at": at,
                    "expires_at": at + timedelta(minutes=10) if held else None,
                }
            )
        connection.execute(insert(reservations), rows)
        # Keep the books balanced for the suites that share the database (sweeps included).
        held = Counter(row["schedule_id"] for row in rows if row["status"] == "HELD")
        for schedule_id, seats in held.items():
            connection.execute(
                update(schedules)
                .where(schedules.c.id == schedule_id)
                .values(reserved=schedules.c.reserved + seats)
            )
        _analyze(connection)
    return engine


def _analyze(connection: Connection, table: str = "rc_reservations") -> None:
    name = connection.dialect.name
    if name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {table}")
    elif name in ("mysql", "mariadb"):
        connection.exec_driver_sql(f"ANALYZE TABLE {table}").all()
    else:
        connection.exec_driver_sql("ANALYZE")


class _Captured(Exception):
    """Stops a statement before it runs, carrying the SQL and parameters it would send."""


def _driver_sql(connection: Connection, statement: Any, values: dict[str, Any]) -> tuple[str, Any]:
    """The SQL text and driver-ready parameters the adapter would send for ``statement``."""

    def capture(*args: Any) -> None:
        raise _Captured(args[2], args[3])  # (conn, cursor, statement, parameters, ...)

    event.listen(connection, "before_cursor_execute", capture)
    try:
        connection.execute(statement, values)
    except _Captured as captured:
        return captured.args[0], captured.args[1]
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    raise AssertionError("the statement ran")  # pragma: no cover


def _explain(connection: Connection, statement: Any, values: dict[str, Any] = PARAMS) -> str:
    """The database's plan for ``statement`` with ``values``, as one string."""
    text, params = _driver_sql(connection, statement, values)
    name = connection.dialect.name
    if name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        return "\n".join(connection.exec_driver_sql(f"EXPLAIN {text}", params).scalars())
    if name in ("mysql", "mariadb"):
        result = connection.exec_driver_sql(f"EXPLAIN {text}", params).mappings()
        return "\n".join(f"key={row['key']} extra={row['Extra']}" for row in result)
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {text}", params).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(("statement", "index"), QUERIES)
def test_query_is_an_index_range_scan_without_a_sort(
    filled: Engine, statement: Any, index: str | None
) -> None:
    with filled.begin() as connection:
        plan = _explain(connection, statement)
    print(plan)  # shown by ``pytest -rP``: the plans themselves, for the docs and reviews
    expected = index or (PAGE_BY_SCHEDULE, PAGE_BY_USER)
    names = (expected,) if isinstance(expected, str) else expected
    assert any(name in plan for name in names), plan
    for sort in ("Sort", "filesort", "TEMP B-TREE"):
        assert sort not in plan, plan


# -- the offers' walk through a waiting list ---------------------------------------------

WAITLIST = "ix_rc_waitlist_entries_schedule_id_status_seq"
WAITLIST_PARAMS = {"schedule_id": "plan-w", "limit": 16}


@pytest.fixture(scope="module")
def waitlisted(filled: Engine) -> Engine:
    """A sold-out schedule whose list holds 500 entries waiting among 20,000 of many
    schedules, nearly all gone (as a list that has lived): the offers' queries must find
    the 500 by the index."""
    with filled.begin() as connection:
        if connection.execute(schedules.select().where(schedules.c.id == "plan-w")).first():
            return filled
        connection.execute(insert(schedules), [{"id": "plan-w", "capacity": 1, "reserved": 1}])
        connection.execute(
            insert(reservations),
            [
                {
                    "id": str(uuid.uuid4()),
                    "schedule_id": "plan-w",
                    "user_id": "plan-w-owner",
                    "quantity": 1,
                    "status": "CONFIRMED",
                    "created_at": START,
                    "updated_at": START,
                }
            ],
        )
        gone = ("LEFT", "EXPIRED", "ACCEPTED")
        rows = [
            {
                "id": str(uuid.uuid4()),
                "schedule_id": "plan-w" if n % 20 == 0 else f"plan-s-{n % 40}",
                "user_id": f"plan-w-{n}",
                "quantity": 1,
                "status": "WAITING" if n % 40 == 0 else gone[n % 3],
                "offer_for_us": 3_600_000_000,
                "created_at": START + timedelta(seconds=n),
                "updated_at": START + timedelta(seconds=n),
            }
            for n in range(20_000)
        ]
        connection.execute(insert(waitlist_entries), rows)
        waiting = sum(row["status"] == "WAITING" for row in rows)
        connection.execute(
            update(schedules).where(schedules.c.id == "plan-w").values(waitlisted=waiting)
        )
        _analyze(connection, "rc_waitlist_entries")
    return filled


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(sql.FIRST_WAITING, id="first-waiting"),
        pytest.param(sql.ANSWERED, id="answered-offers"),
        pytest.param(sql.POSITION, id="position"),
    ],
)
def test_the_offers_walk_reads_the_list_by_its_index(waitlisted: Engine, statement: Any) -> None:
    """A cancel on a long list reads a page of it by the index, in join order, unsorted."""
    with waitlisted.begin() as connection:
        plan = _explain(connection, statement, {**WAITLIST_PARAMS, "seq": 10**9})
    print(plan)
    assert WAITLIST in plan, plan
    for sort in ("Sort", "filesort", "TEMP B-TREE"):
        assert sort not in plan, plan
