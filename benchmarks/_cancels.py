"""The cancel workloads of hot_schedule.py (see its docstring).

* ``cancel`` -- every request cancels one ``CONFIRMED`` reservation of the hot schedule,
  drawn from a stock written before the run (``--cancel-stock`` rows, by one bulk
  ``INSERT``). The schedule has no waiting list: this is what every cancel pays for the
  waiting lists' existence, so compare ``library`` with ``baseline`` (a checkout from
  before waiting lists).
* ``cancel-waitlist`` -- the same on a sold-out schedule whose waiting list holds
  ``--waiting`` entries of one seat more than the stock it may cancel, so that it never
  holds fewer than ``--waiting`` entries during the run: every cancel offers its seat to
  the list's first entry, in its transaction. Reported: cancels/s, offers/s (they must
  be equal) and the latencies; only ``library`` runs it.

Imports of the library happen inside the functions: a ``--baseline`` process imports
hot_schedule.py with a library that has no waiting lists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update

Book = Callable[[Any, str], bool]
MakeClient = Callable[[int], Book]

CANCEL_WORKLOADS = ("cancel", "cancel-waitlist")
#: How long a benchmark offer stays open: longer than any run, so none lapses.
_OFFER_FOR = timedelta(hours=1)


def stock(engine: Engine, schedule_id: str, count: int, waiting: int | None = None) -> list[str]:
    """``count`` ``CONFIRMED`` one-seat reservations on ``schedule_id``; their ids.

    With ``waiting``: the schedule is sold out (its capacity is ``count``) and its
    waiting list holds ``count + waiting`` one-seat entries, as ``join_waitlist`` writes
    them.
    """
    from reservation_core.adapters.sqlalchemy import reservations, schedules  # noqa: PLC0415

    now = datetime.now(UTC)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    rows = [
        {
            "id": rid,
            "schedule_id": schedule_id,
            "user_id": f"stock-{n}",
            "quantity": 1,
            "status": "CONFIRMED",
            "created_at": now,
            "updated_at": now,
        }
        for n, rid in enumerate(ids)
    ]
    counts: dict[str, int] = {"reserved": count}
    with engine.begin() as connection:
        connection.execute(reservations.insert(), rows)
        if waiting is not None:
            listed = _join(connection, schedule_id, count + waiting)
            counts.update(capacity=count, waitlisted=listed)
        connection.execute(update(schedules).where(schedules.c.id == schedule_id).values(counts))
    _analyze(engine)
    return ids


def _analyze(engine: Engine) -> None:
    """Fresh statistics, as a table that has lived has (the planner picks by them)."""
    analyze = {
        "postgresql": "ANALYZE {}",
        "mysql": "ANALYZE TABLE {}",
        "mariadb": "ANALYZE TABLE {}",
    }
    if engine.dialect.name not in analyze:  # SQLite plans without statistics
        return
    with engine.begin() as connection:
        for table in ("rc_schedules", "rc_reservations", "rc_waitlist_entries"):
            connection.exec_driver_sql(analyze[engine.dialect.name].format(table))


def _join(connection: Any, schedule_id: str, count: int) -> int:
    from reservation_core.adapters.sqlalchemy.tables import waitlist_entries  # noqa: PLC0415

    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "schedule_id": schedule_id,
            "user_id": f"waiting-{n}",
            "quantity": 1,
            "status": "WAITING",
            "offer_for_us": _OFFER_FOR // timedelta(microseconds=1),
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    for first in range(0, count, 5000):  # one INSERT per 5000 rows: in every packet limit
        connection.execute(waitlist_entries.insert(), rows[first : first + 5000])
    return count


def cancel_picker(ids: Sequence[str]) -> Callable[[], str]:
    """The next reservation of the stock; the stock running out stops the benchmark."""
    remaining = iter(ids)

    def pick() -> str:
        try:
            return next(remaining)  # a list iterator's next is atomic under the GIL
        except StopIteration:
            raise SystemExit("the cancel stock ran out: raise --cancel-stock") from None

    return pick


def library_cancel_contender(services: Sequence[Any]) -> MakeClient:
    """``cancel_reservation`` of the picked reservation through the services."""
    from reservation_core import BusinessException  # noqa: PLC0415

    def client(index: int) -> Book:
        service = services[index % len(services)]

        def cancel(reservation_id: str, _user_id: str) -> bool:
            try:
                service.cancel_reservation(reservation_id)
            except BusinessException:
                return False
            return True

        return cancel

    return client


def check_cancels(engine: Engine, schedule_id: str, workload: str) -> int:
    """The schedule's count matches its rows and, with a list, every cancel made an offer.

    Returns the offers made (0 without a waiting list).
    """
    from reservation_core.adapters.sqlalchemy import reservations, schedules  # noqa: PLC0415
    from reservation_core.adapters.sqlalchemy.tables import waitlist_entries  # noqa: PLC0415

    r, w = reservations.c, waitlist_entries.c
    with engine.connect() as connection:
        reserved = connection.execute(
            select(schedules.c.reserved).where(schedules.c.id == schedule_id)
        ).scalar_one()
        statuses = select(r.status, func.count()).where(r.schedule_id == schedule_id)
        by_status = dict(connection.execute(statuses.group_by(r.status)).all())
        offered = connection.execute(
            select(func.count()).where(w.schedule_id == schedule_id, w.status == "OFFERED")
        ).scalar_one()
    if reserved != by_status.get("CONFIRMED", 0) + by_status.get("HELD", 0):
        raise AssertionError(f"{schedule_id}: reserved {reserved} but rows {by_status}")
    if workload == "cancel-waitlist" and offered != by_status.get("CANCELLED", 0):
        raise AssertionError(f"{schedule_id}: {offered} offers for {by_status} cancels")
    if offered != by_status.get("HELD", 0):
        raise AssertionError(f"{schedule_id}: {offered} offers but {by_status}")
    return int(offered)
