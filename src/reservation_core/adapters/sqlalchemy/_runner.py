"""What the repositories run statements on, and the unit of work built on it (private).

:class:`Runner` is a unit of work's connection, in its transaction: the repositories
depend on this small object, not on the unit of work that owns them (no import cycle).
:class:`RunnerUnitOfWork` is what every unit of work over a runner shares, its
repositories: ``SqlAlchemyUnitOfWork`` runs them on a SQLAlchemy connection, the Django
integration on a Django connection; the repositories, statements and dialect rules are
the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult
from sqlalchemy.sql import Executable

from reservation_core.domain import Reservation
from reservation_core.ports import AbstractUnitOfWork

from ._dialects._base import DialectRules
from ._errors import Classifier, UniqueViolation, translated
from ._repositories import (
    SqlEvents,
    SqlIdempotencyKeys,
    SqlReservations,
    SqlSchedules,
    SqlWaitlist,
)


class Runner:
    """Runs statements on ``connection`` once ``ensure_transaction`` has made it ready."""

    __slots__ = ("_classify", "_ensure", "connection", "rules")

    def __init__(
        self,
        connection: Connection,
        rules: DialectRules,
        ensure_transaction: Callable[[], None],
    ) -> None:
        self.connection = connection
        self.rules = rules
        self._classify: Classifier = rules.classify
        self._ensure = ensure_transaction

    def execute(self, statement: Executable, params: dict[str, Any]) -> CursorResult[Any]:
        """Run one statement in the unit of work's transaction, errors translated."""
        with translated(self._classify):
            self._ensure()
            return self.connection.execute(statement, params)

    def insert_group(self, group: list[Reservation]) -> None:
        """Insert a decided group, the dialect's fastest way (see ``DialectRules``)."""
        with translated(self._classify):
            self._ensure()
            self.rules.insert_group(self.connection, group)

    def book(self, reservation: Reservation) -> bool:
        """Take seats and insert the reservation the dialect's fastest safe way."""
        with translated(self._classify):
            self._ensure()
            return self.rules.book(self.connection, reservation)

    def transition(self, params: dict[str, Any]) -> bool:
        """Compare-and-set a reservation's status and append its event."""
        with translated(self._classify):
            self._ensure()
            return self.rules.transition(self.connection, params)

    @staticmethod
    def unless_taken(write: Callable[[], object]) -> bool:
        """Run ``write``; ``False`` instead of an error if a unique constraint refused it."""
        try:
            write()
        except UniqueViolation:
            return False
        return True


class RunnerUnitOfWork(AbstractUnitOfWork):
    """A unit of work whose repositories run the prebuilt statements on one runner."""

    _runner: Runner
    _rules: DialectRules
    schedules: SqlSchedules
    reservations: SqlReservations
    idempotency_keys: SqlIdempotencyKeys
    events: SqlEvents
    waitlist: SqlWaitlist

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
        self.waitlist = SqlWaitlist(runner)
