"""What every unit of work over :class:`._runner.Runner` shares: its repositories.

``SqlAlchemyUnitOfWork`` runs them on a SQLAlchemy connection, the Django integration on a
Django connection; the repositories, statements and dialect rules are the same (private).
"""

from __future__ import annotations

from collections.abc import Sequence

from reservation_core.domain import Reservation
from reservation_core.ports import AbstractUnitOfWork

from ._dialects._base import DialectRules
from ._repositories import SqlEvents, SqlIdempotencyKeys, SqlReservations, SqlSchedules
from ._runner import Runner


class RunnerUnitOfWork(AbstractUnitOfWork):
    """A unit of work whose repositories run the prebuilt statements on one runner."""

    _runner: Runner
    _rules: DialectRules
    schedules: SqlSchedules
    reservations: SqlReservations
    idempotency_keys: SqlIdempotencyKeys
    events: SqlEvents

    def add_group_and_commit(self, reservations: Sequence[Reservation]) -> list[bool]:
        """The group under one lock of the schedule's row, inserted together; then commit."""
        booked = self.reservations.add_group(list(reservations))
        if any(booked):
            self.commit()
        return booked

    @property
    def _one_writer(self) -> bool:
        """Whether the database writes one transaction at a time (read by group commit)."""
        return self._rules.one_writer

    def _use(self, runner: Runner) -> None:
        """Run the repositories on ``runner`` from now on."""
        self._runner = runner
        self.schedules = SqlSchedules(runner)
        self.reservations = SqlReservations(runner)
        self.idempotency_keys = SqlIdempotencyKeys(runner)
        self.events = SqlEvents(runner)
