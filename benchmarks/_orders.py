"""The order and pool workloads of hot_schedule.py (see its docstring).

* ``order`` -- every request is an order of ``--order-lines`` lines (one seat each) on
  as many of ``--order-schedules`` hot schedules, drawn at random and in random order,
  so that orders overlap and meet each other's locks in every order. ``library`` is
  ``ReservationService.create_order``; ``raw`` the same order by hand with the driver:
  ``SELECT ... FOR UPDATE`` of the schedules in the order of their ids, a conditional
  ``UPDATE`` per line, the reservations' and the events' ``INSERT`` (``executemany``: one
  round trip each on psycopg's pipeline and PyMySQL's multi-row insert), ``COMMIT``.
* ``pooled`` (a contender of the hot and spread workloads) -- the library's plain
  ``create_reservation`` on schedules that each count against one pool of their own;
  compare it with ``library`` on schedules without pools.

Imports of the library happen inside the functions: a ``--baseline`` process imports
hot_schedule.py with a library that has neither orders nor pools.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

Book = Callable[[Any, str], bool]
MakeClient = Callable[[int], Book]

_CONFIRMED = "CONFIRMED"
_EVENT = "reservation.confirmed"


def order_picker(ids: list[str], lines: int) -> Callable[[], tuple[str, ...]]:
    """``lines`` distinct schedules of ``ids``, in a random order (the order's lines)."""
    return lambda: tuple(random.sample(ids, lines))


def library_order_contender(services: Sequence[Any]) -> MakeClient:
    """``create_order`` of the picked schedules, a seat each, through the services."""
    from reservation_core import BusinessException, OrderLine  # noqa: PLC0415

    def client(index: int) -> Book:
        service = services[index % len(services)]

        def book(picked: tuple[str, ...], user_id: str) -> bool:
            try:
                service.create_order(user_id, [OrderLine(s) for s in picked])
            except BusinessException:
                return False
            return True

        return book

    return client


def raw_order_book(connection: Any, backend: str) -> Book:
    """The order by hand on one driver connection (psycopg or PyMySQL)."""
    postgresql = backend == "postgresql"
    # psycopg adapts a list to an array; PyMySQL a tuple to a parenthesised list.
    lock = (
        "SELECT id, capacity, reserved FROM rc_schedules WHERE id "
        + ("= ANY(%s)" if postgresql else "IN %s")
        + " ORDER BY id FOR UPDATE"
    )
    take = (
        "UPDATE rc_schedules SET reserved = reserved + %s "
        "WHERE id = %s AND reserved <= capacity - %s"
    )
    insert = (
        "INSERT INTO rc_reservations (id, schedule_id, user_id, quantity, status, "
        "created_at, updated_at, order_id, order_line) "
        "VALUES (%s, %s, %s, 1, 'CONFIRMED', %s, %s, %s, %s)"
    )
    append = (
        "INSERT INTO rc_events (type, reservation_id, schedule_id, user_id, quantity, "
        "status, occurred_at) VALUES (%s, %s, %s, %s, 1, 'CONFIRMED', %s)"
    )
    cursor = connection.cursor()

    def book(picked: tuple[str, ...], user_id: str) -> bool:
        now = datetime.now(UTC)
        if not postgresql:
            now = now.replace(tzinfo=None)  # MySQL stores naive UTC
        ordered = sorted(picked)
        cursor.execute(lock, (ordered if postgresql else tuple(ordered),))
        if len(cursor.fetchall()) != len(ordered):
            connection.rollback()
            return False
        for schedule_id in ordered:
            cursor.execute(take, (1, schedule_id, 1))
            if cursor.rowcount != 1:
                connection.rollback()
                return False
        order_id = str(uuid.uuid4())
        ids = [str(uuid.uuid4()) for _ in picked]
        cursor.executemany(
            insert,
            [
                (rid, sid, user_id, now, now, order_id, line)
                for line, (rid, sid) in enumerate(zip(ids, picked, strict=True))
            ],
        )
        cursor.executemany(
            append,
            [(_EVENT, rid, sid, user_id, now) for rid, sid in zip(ids, picked, strict=True)],
        )
        connection.commit()
        return True

    return book


def pool_of(schedule_id: str) -> str:
    """The pool of a ``pooled`` contender's schedule: one of its own."""
    return f"{schedule_id}-pool"


def pooled_schedules(engine: Engine, ids: list[str], capacity: int) -> None:
    """Schedules ``ids``, each counting against a pool of its own, as ``create_schedule``
    writes them (the rows, ``pool_count``, the links)."""
    from reservation_core.adapters.sqlalchemy import schedules  # noqa: PLC0415
    from reservation_core.adapters.sqlalchemy.tables import schedule_pools  # noqa: PLC0415

    pools = [pool_of(i) for i in ids]
    rows = [{"id": i, "capacity": capacity, "reserved": 0, "pool_count": 0} for i in pools]
    rows += [{"id": i, "capacity": capacity, "reserved": 0, "pool_count": 1} for i in ids]
    links = [{"schedule_id": i, "pool_id": pool_of(i)} for i in ids]
    with engine.begin() as connection:
        connection.execute(schedules.insert(), rows)
        connection.execute(schedule_pools.insert(), links)


def check_pools(engine: Engine, ids: list[str]) -> None:
    """Each pool of a ``pooled`` run holds exactly the seats its schedule holds."""
    from reservation_core.adapters.sqlalchemy import schedules  # noqa: PLC0415

    query = select(schedules.c.id, schedules.c.reserved).where(
        schedules.c.id.in_([*ids, *map(pool_of, ids)])
    )
    with engine.connect() as connection:
        reserved = {row.id: row.reserved for row in connection.execute(query)}
    for schedule_id in ids:
        if reserved[schedule_id] != reserved[pool_of(schedule_id)]:
            raise AssertionError(f"pool of {schedule_id} drifted: {reserved}")


def check_orders(engine: Engine, ids: list[str], lines: int) -> None:
    """Every order on ``ids`` has all its ``lines`` lines (all or nothing)."""
    from reservation_core.adapters.sqlalchemy import reservations  # noqa: PLC0415

    r = reservations.c
    query = (
        select(r.order_id, func.count())
        .where(r.schedule_id.in_(ids), r.order_id.is_not(None))
        .group_by(r.order_id)
        .having(func.count() != lines)
    )
    with engine.connect() as connection:
        broken = connection.execute(query).first()
    if broken is not None:
        raise AssertionError(f"order {broken[0]} has {broken[1]} lines, not {lines}")
