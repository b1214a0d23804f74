"""SqlAlchemyUnitOfWork: one connection and one transaction per use case."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Self

from sqlalchemy import CursorResult, Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql import Executable

from reservation_core.domain import Reservation
from reservation_core.ports import AbstractUnitOfWork, DuplicateReservationError

from ._dialects import rules_for
from ._errors import UniqueViolation, translated
from ._repositories import SqlIdempotencyKeys, SqlReservations, SqlSchedules

__all__ = ["SqlAlchemyUnitOfWork"]


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    """A unit of work on an ``Engine`` the host already has.

    Each unit of work checks out one connection from the engine's pool for its
    transaction and returns it on exit. It uses SQLAlchemy Core statements only (no ORM
    session), and translates every driver error: nothing from SQLAlchemy or the driver
    reaches the service's callers.

    Args:
        engine: the host's engine on SQLite (a file), PostgreSQL or MariaDB/MySQL, whose
            database has the ``rc_`` tables (``metadata.create_all(engine)`` or the Alembic
            branch ``reservation_core``).

    Examples:
        >>> from sqlalchemy import create_engine
        >>> from reservation_core import ReservationService
        >>> engine = create_engine("postgresql+psycopg://app@db/app")  # doctest: +SKIP
        >>> service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))  # doctest: +SKIP
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._rules = rules_for(engine)
        self._classify = self._rules.classify
        self._connection: Any = None
        self.schedules = SqlSchedules(self)
        self.reservations = SqlReservations(self)
        self.idempotency_keys = SqlIdempotencyKeys(self)

    def __enter__(self) -> Self:
        with translated(self._classify, connecting=True):
            self._connection = self._rules.connect(self._engine)
        return super().__enter__()

    def execute(self, statement: Executable, params: dict[str, Any]) -> CursorResult[Any]:
        """Run one statement in the unit of work's transaction (for the repositories)."""
        connection = self._connection
        with translated(self._classify):
            if not connection.in_transaction():
                self._rules.begin(connection)
            return connection.execute(statement, params)  # type: ignore[no-any-return]

    def book(self, reservation: Reservation) -> bool:
        """Take seats and insert the reservation the dialect's fastest safe way."""
        connection = self._connection
        with translated(self._classify):
            if not connection.in_transaction():
                self._rules.begin(connection)
            return self._rules.book(connection, reservation)

    def add_reservation_and_commit(self, reservation: Reservation) -> bool:
        """Book and commit; in one statement where the dialect can and nothing else was written.

        That statement is its own commit: a connection lost while it runs is
        ``STORAGE_UNAVAILABLE`` with an unknown outcome, exactly as when losing it during
        ``COMMIT``.
        """
        connection = self._connection
        if connection.in_transaction():
            return super().add_reservation_and_commit(reservation)
        try:
            with translated(self._classify, committing=True):
                booked = self._rules.book_and_commit(connection, reservation)
        except UniqueViolation:
            raise DuplicateReservationError(
                (reservation.schedule_id, reservation.user_id)
            ) from None
        if booked is None:
            return super().add_reservation_and_commit(reservation)
        return booked

    def unless_taken(self, write: Callable[[], object]) -> bool:
        """Run ``write``; ``False`` instead of an error if a unique constraint refused it."""
        try:
            write()
        except UniqueViolation:
            return False
        return True

    def commit(self) -> None:
        """Commit the transaction."""
        with translated(self._classify, committing=True):
            self._connection.commit()

    def rollback(self) -> None:
        """Roll back; a connection already lost has nothing left to roll back."""
        if self._connection is None:
            return
        try:
            self._connection.rollback()
        except sa_exc.SQLAlchemyError:
            self._connection.invalidate()

    def close(self) -> None:
        """Return the connection to the engine's pool."""
        connection, self._connection = self._connection, None
        if connection is not None:
            # The pool discards a connection it cannot reset.
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                self._rules.release(connection)
