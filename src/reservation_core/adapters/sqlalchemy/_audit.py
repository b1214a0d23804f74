"""The seat-count audit: ``reserved`` against the sum of ``HELD`` and ``CONFIRMED`` quantities.

A pool's sum takes in the reservations on the pool itself and on every schedule that
counts against it.

The library keeps ``reserved == Σ quantity of HELD + CONFIRMED`` itself; drift only comes from
outside it (a hand-written ``UPDATE``, a restored backup, a bug). :func:`audit` finds it
and, with ``repair=True``, fixes it under the schedule's lock.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection
from typing import TypeVar

from sqlalchemy import Engine, bindparam, delete, func, or_, select, union_all, update

from reservation_core._running.retry import RetryPolicy, run_in_unit_of_work
from reservation_core.domain import ReservationStatus

from ._runner import RunnerUnitOfWork
from .tables import reservations, schedule_pools, schedules
from .uow import SqlAlchemyUnitOfWork

__all__ = ["AuditReport", "ScheduleDrift", "audit"]

_log = logging.getLogger("reservation_core.audit")

T = TypeVar("T")
UnitOfWorkFactory = Callable[[], RunnerUnitOfWork]
_S, _R, _P = schedules.c, reservations.c, schedule_pools.c
# Holds take seats as bookings do, until they are confirmed, cancelled or expired.
_ACTIVE = [str(status) for status in ReservationStatus if status.holds_seats]

# Every active seat counts on its schedule and on each of the schedule's pools.
_SEATS = union_all(
    select(_R.schedule_id.label("counter"), _R.quantity).where(_R.status.in_(_ACTIVE)),
    select(_P.pool_id.label("counter"), _R.quantity)
    .select_from(reservations.join(schedule_pools, _P.schedule_id == _R.schedule_id))
    .where(_R.status.in_(_ACTIVE)),
).subquery("seats")
_SUMS = (
    select(_SEATS.c.counter.label("schedule_id"), func.sum(_SEATS.c.quantity).label("seats"))
    .group_by(_SEATS.c.counter)
    .subquery("active")
)
_ACTUAL = func.coalesce(_SUMS.c.seats, 0)
# One statement, so one snapshot on every backend: a booking commits its seat count and
# its reservation together, so a busy database shows no false drift.
_DRIFTED = (
    select(_S.id, _S.capacity, _S.reserved, _ACTUAL.label("actual"))
    .select_from(schedules.outerjoin(_SUMS, _SUMS.c.schedule_id == _S.id))
    .where(or_(_S.reserved != _ACTUAL, _S.reserved < 0, _S.reserved > _S.capacity))
    .order_by(_S.id)
)
_COUNT = select(func.count()).select_from(schedules)
# FOR UPDATE locks the row on PostgreSQL and MariaDB; SQLite's unit of work already holds
# the database's write lock (BEGIN IMMEDIATE), and SQLAlchemy omits the clause there.
_LOCKED_SCHEDULE = (
    select(_S.capacity, _S.reserved).where(_S.id == bindparam("schedule_id")).with_for_update()
)
# A pool's lock is enough: a booking on a schedule that counts against it locks it too.
_ACTIVE_SEATS = select(func.coalesce(func.sum(_R.quantity), 0)).where(
    _R.status.in_(_ACTIVE),
    or_(
        _R.schedule_id == bindparam("schedule_id"),
        _R.schedule_id.in_(select(_P.schedule_id).where(_P.pool_id == bindparam("schedule_id"))),
    ),
)
_SET_RESERVED = (
    update(schedules).where(_S.id == bindparam("schedule_id")).values(reserved=bindparam("seats"))
)

_ATTEMPTS = 5


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleDrift:
    """A schedule whose stored seat count is wrong.

    Attributes:
        schedule_id: the schedule.
        capacity: its capacity.
        stored_reserved: the ``reserved`` column as found.
        actual_reserved: the sum of the quantities of its ``HELD`` and ``CONFIRMED``
            reservations.
        repaired: whether :func:`audit` set ``reserved`` to ``actual_reserved``.
    """

    schedule_id: str
    capacity: int
    stored_reserved: int
    actual_reserved: int
    repaired: bool = False

    @property
    def repairable(self) -> bool:
        """Whether the true count fits the capacity; if not, the schedule is overbooked.

        An overbooked schedule is never repaired by the audit: raising the capacity or
        cancelling reservations is a business decision (``change_capacity`` to at least
        ``actual_reserved``, or cancel reservations, then audit again).
        """
        return 0 <= self.actual_reserved <= self.capacity


@dataclasses.dataclass(frozen=True, slots=True)
class AuditReport:
    """What :func:`audit` found.

    Attributes:
        schedules_checked: how many schedules were checked.
        drifts: every schedule whose seat count was wrong, ordered by id.
        repair: whether repair was asked for.
    """

    schedules_checked: int
    drifts: tuple[ScheduleDrift, ...]
    repair: bool = False

    @property
    def unrepaired(self) -> tuple[ScheduleDrift, ...]:
        """The drifts still in the database."""
        return tuple(drift for drift in self.drifts if not drift.repaired)

    @property
    def consistent(self) -> bool:
        """Whether the database is consistent now (after any repair)."""
        return not self.unrepaired


def audit(
    engine: Engine, repair: bool = False, *, schedule_ids: Collection[str] | None = None
) -> AuditReport:
    """Check that every schedule's ``reserved`` is the sum of its active quantities.

    Active: ``HELD`` and ``CONFIRMED``. A hold past its ``expires_at`` still counts until
    it is expired (it holds its seats until then), so lapsed holds are no drift.

    Also checks ``0 <= reserved <= capacity``. With ``repair=True`` each drifted schedule is
    fixed in its own transaction, holding the schedule's lock (the lock every booking,
    hold, cancel, refund and expiry takes first), so the count written is exact even under load. An
    overbooked schedule (more held and confirmed seats than capacity) is reported, never changed:
    see :attr:`ScheduleDrift.repairable`.

    Args:
        engine: an engine on a database with the ``rc_`` tables.
        repair: fix what can be fixed.
        schedule_ids: check only these schedules (default: all).

    Raises:
        BusinessException: ``STORAGE_UNAVAILABLE`` when the database cannot be read,
            ``CONCURRENCY_CONFLICT`` when a repair kept meeting transient conflicts.

    Examples:
        >>> report = audit(engine, repair=True)  # doctest: +SKIP
        >>> report.consistent, [d.schedule_id for d in report.drifts]  # doctest: +SKIP
        (True, ['yoga-monday-0900'])
    """
    return audit_units(lambda: SqlAlchemyUnitOfWork(engine), repair, schedule_ids=schedule_ids)


def audit_units(
    uow_factory: UnitOfWorkFactory,
    repair: bool = False,
    *,
    schedule_ids: Collection[str] | None = None,
) -> AuditReport:
    """:func:`audit`, each step in a unit of work from ``uow_factory`` (the Django app's too)."""
    wanted = None if schedule_ids is None else sorted(set(schedule_ids))

    def find(uow: RunnerUnitOfWork) -> tuple[int, list[ScheduleDrift]]:
        drifted, count = _DRIFTED, _COUNT
        if wanted is not None:
            drifted, count = drifted.where(_S.id.in_(wanted)), count.where(_S.id.in_(wanted))
        rows = uow._runner.execute(drifted, {}).all()
        found = [ScheduleDrift(row.id, row.capacity, row.reserved, int(row.actual)) for row in rows]
        return int(uow._runner.execute(count, {}).scalar_one()), found

    checked, drifts = _retrying(uow_factory, find)
    for drift in drifts:
        _log.warning(
            "seat count drift on schedule %s: %d stored, %d held by its reservations",
            drift.schedule_id,
            drift.stored_reserved,
            drift.actual_reserved,
            extra={"schedule_id": drift.schedule_id},
        )
    if repair:
        fixed = (_retrying(uow_factory, _repairer(drift.schedule_id)) for drift in drifts)
        drifts = [drift for drift in fixed if drift is not None]
    return AuditReport(checked, tuple(drifts), repair)


def _repairer(schedule_id: str) -> Callable[[RunnerUnitOfWork], ScheduleDrift | None]:
    def repair(uow: RunnerUnitOfWork) -> ScheduleDrift | None:
        params = {"schedule_id": schedule_id}
        row = uow._runner.execute(_LOCKED_SCHEDULE, params).first()
        if row is None:  # deleted since it was found
            return None
        actual = int(uow._runner.execute(_ACTIVE_SEATS, params).scalar_one())
        drift = ScheduleDrift(schedule_id, row.capacity, row.reserved, actual)
        if drift.stored_reserved == actual and drift.repairable:
            return None  # repaired by someone else meanwhile
        if not drift.repairable:
            return drift
        uow._runner.execute(_SET_RESERVED, {"schedule_id": schedule_id, "seats": actual})
        uow.commit()
        return dataclasses.replace(drift, repaired=True)

    return repair


def _retrying(uow_factory: UnitOfWorkFactory, work: Callable[[RunnerUnitOfWork], T]) -> T:
    """Run ``work`` in a fresh unit of work, again on transient trouble, like the service."""
    return run_in_unit_of_work(uow_factory, work, RetryPolicy(_ATTEMPTS, 0.01))


def remove_schedules(engine: Engine, schedule_ids: Collection[str]) -> None:
    """Delete schedules and their reservations (the CLI's clean-up of its own runs)."""
    ids = list(schedule_ids)

    def remove(uow: RunnerUnitOfWork) -> None:
        uow._runner.execute(delete(reservations).where(_R.schedule_id.in_(ids)), {})
        links = or_(_P.schedule_id.in_(ids), _P.pool_id.in_(ids))
        uow._runner.execute(delete(schedule_pools).where(links), {})
        uow._runner.execute(delete(schedules).where(_S.id.in_(ids)), {})
        uow.commit()

    _retrying(lambda: SqlAlchemyUnitOfWork(engine), remove)
