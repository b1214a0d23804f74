"""SqlAlchemyUnitOfWork: a connection and a transaction per use case, its own or the host's."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, NestedTransaction
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, scoped_session

from reservation_core.domain import Reservation
from reservation_core.ports import DuplicateReservationError

from ._dialects import rules_for
from ._errors import UniqueViolation, UnsupportedDatabaseError, seen_lost, translated
from ._runner import Runner, RunnerUnitOfWork

__all__ = ["SqlAlchemyUnitOfWork"]

Bind = Engine | Connection | Session | scoped_session[Session]


class SqlAlchemyUnitOfWork(RunnerUnitOfWork):
    """A unit of work on the host's ``Engine``, or inside the host's own transaction.

    Given an ``Engine``, each unit of work checks out one connection from the engine's
    pool, runs the use case in a transaction of its own, commits it, and returns the
    connection; the service retries the use case on transient conflicts.

    Given a ``Connection`` or an ORM ``Session`` (or a ``scoped_session``, such as
    Flask-SQLAlchemy's ``db.session``: the current one), it **joins the host's
    transaction**: the
    use case runs inside a ``SAVEPOINT`` that success releases and a business error rolls
    back to, so the host's transaction stays usable either way. It never commits, rolls
    back or closes the host's transaction or connection: nothing is durable until the
    host commits, and the host's rollback undoes the booking and returns its seats. A
    ``Session``'s pending objects are flushed first. The library cannot replay the host's
    earlier statements, so it does not retry there: a transient conflict is
    ``CONCURRENCY_CONFLICT`` with ``details["retryable"] is True`` — retry the whole
    transaction.

    Statements are SQLAlchemy Core only, and every driver error is translated: nothing
    from SQLAlchemy or the driver reaches the service's callers.

    Args:
        bind: an ``Engine``, ``Connection`` or ``Session`` on SQLite, PostgreSQL or
            MariaDB/MySQL through a supported driver, whose database has the ``rc_``
            tables (``metadata.create_all(engine)`` or the Alembic branch
            ``reservation_core``).

    Raises:
        ValueError: (a ``BusinessException`` with code ``STORAGE_UNAVAILABLE`` too) the
            database or driver is not supported, or ``bind`` is not one of the three; the
            message names what is supported.

    Examples:
        >>> from sqlalchemy import create_engine
        >>> from reservation_core import ReservationService
        >>> engine = create_engine("postgresql+psycopg://app@db/app")  # doctest: +SKIP
        >>> service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))  # doctest: +SKIP
    """

    def __init__(self, bind: Bind) -> None:
        if isinstance(bind, Engine | Connection):
            dialect = bind.dialect
        elif isinstance(bind, Session | scoped_session):
            dialect = bind.get_bind().dialect
        else:
            raise _unsupported_bind(bind)
        self._bind = bind
        self._rules = rules_for(dialect)
        self._classify = self._rules.classify
        self.retryable = isinstance(bind, Engine)
        self._connection: Any = None  # a Connection while entered
        self._savepoint: NestedTransaction | None = None

    @classmethod
    def _owning(cls, connection: Connection) -> SqlAlchemyUnitOfWork:
        """A unit of work on a connection just checked out for it, as if from an ``Engine``.

        Its own transactions, retried; closing it releases the connection. For
        ``AsyncSqlAlchemyUnitOfWork``, which checks the connection out of an ``AsyncEngine``.
        """
        uow = cls(connection)
        uow.retryable = True
        return uow

    def __enter__(self) -> Self:
        bind = self._bind
        own = self.retryable  # a connection of its own, not the host's
        with translated(self._classify, connecting=own):
            if isinstance(bind, Engine):
                connection = self._rules.connect(bind)
            elif isinstance(bind, Connection):
                connection = self._rules.prepare(bind) if own else bind
            else:
                session = bind() if isinstance(bind, scoped_session) else bind
                session.flush()
                connection = session.connection()
            if not own:
                self._rules.join(connection)
        self._connection = connection
        self._use(
            Runner(connection, self._rules, self._begin_own if own else self._begin_savepoint)
        )
        return super().__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if seen_lost(exc) and self.retryable and self._connection is not None:
            # Never pool it again: a dead one would fail the pool's reset, and a server that
            # now refuses writes (a demoted primary) still answers the pool's ping, and the
            # retry would meet it once more.
            with contextlib.suppress(Exception):
                self._connection.invalidate()
        super().__exit__(exc_type, exc, tb)

    def _begin_own(self) -> None:
        connection = self._connection
        if not connection.in_transaction():
            self._rules.begin(connection)

    def _begin_savepoint(self) -> None:
        if self._savepoint is None or not self._savepoint.is_active:
            self._savepoint = self._connection.begin_nested()

    def add_reservation_and_commit(self, reservation: Reservation) -> bool:
        """Book and commit; in one statement where the dialect can and nothing else was written.

        That statement is its own commit: a connection lost while it runs is
        ``STORAGE_UNAVAILABLE`` with an unknown outcome, exactly as when losing it during
        ``COMMIT``. Inside the host's transaction it is always a booking and a release of
        the savepoint.
        """
        connection = self._connection
        if not self.retryable or connection.in_transaction():
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

    def add_group_and_commit(self, reservations: Sequence[Reservation]) -> list[bool]:
        """Book a group; in one statement where the dialect can and nothing else was written."""
        connection = self._connection
        if self.retryable and not connection.in_transaction():
            with translated(self._classify, committing=True):
                booked = self._rules.book_group_and_commit(connection, list(reservations))
            if booked is not None:
                return booked
        return super().add_group_and_commit(reservations)

    def commit(self) -> None:
        """Commit the unit of work's transaction, or release its savepoint in the host's."""
        if not self.retryable:
            savepoint, self._savepoint = self._savepoint, None
            if savepoint is not None and savepoint.is_active:
                with translated(self._classify):
                    savepoint.commit()
            return
        with translated(self._classify, committing=True):
            self._connection.commit()

    def rollback(self) -> None:
        """Roll back (to the savepoint, in the host's transaction); a lost connection is left."""
        connection = self._connection
        if connection is None:
            return
        if not self.retryable:
            savepoint, self._savepoint = self._savepoint, None
            if savepoint is not None and savepoint.is_active:
                # A connection already lost: the host's own rollback or commit will say so.
                with contextlib.suppress(sa_exc.SQLAlchemyError):
                    savepoint.rollback()
            return
        try:
            connection.rollback()
        except Exception:  # noqa: BLE001 - lost, perhaps raw from the driver: never pool it again
            connection.invalidate()

    def close(self) -> None:
        """Return the connection to the engine's pool; the host's connection stays open."""
        connection, self._connection = self._connection, None
        if connection is None or not self.retryable:
            return
        try:
            self._rules.release(connection)
        except Exception:  # noqa: BLE001 - a connection killed while the pool reset it
            # Discard it rather than leak its pool slot or the driver's raw error.
            with contextlib.suppress(Exception):
                connection.invalidate()
            with contextlib.suppress(Exception):
                connection.close()


def _unsupported_bind(bind: object) -> UnsupportedDatabaseError:
    name = type(bind).__name__
    hint = (
        "; for asyncio, AsyncReservationService with AsyncSqlAlchemyUnitOfWork takes it"
        if type(bind).__module__.startswith("sqlalchemy.ext.asyncio")
        else ""
    )
    return UnsupportedDatabaseError(
        "STORAGE_UNAVAILABLE",
        f"SqlAlchemyUnitOfWork takes a SQLAlchemy Engine, Connection or Session, not {name}{hint}",
        details={"reason": "unsupported_bind", "bind": name},
    )
