"""DjangoUnitOfWork: a use case on ``django.db.connections[alias]``, in Django's transactions."""

from __future__ import annotations

import contextlib
from typing import Self, cast

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils.connection import ConnectionDoesNotExist
from sqlalchemy import Connection, Dialect

from reservation_core.adapters.sqlalchemy._dialects import rules_for
from reservation_core.adapters.sqlalchemy._dialects._base import DialectRules
from reservation_core.adapters.sqlalchemy._errors import UnsupportedDatabaseError, translated
from reservation_core.adapters.sqlalchemy._runner import Runner, RunnerUnitOfWork

from ._connection import DjangoConnection, dialect_for

__all__ = ["DjangoUnitOfWork"]


class _RolledBack(Exception):
    """Handed to an ``atomic`` block's exit so that it rolls back."""


class DjangoUnitOfWork(RunnerUnitOfWork):
    """A unit of work on a Django database connection: no engine, no second configuration.

    It runs the same statements, repositories and per-database rules as
    ``SqlAlchemyUnitOfWork``, on ``django.db.connections[using]``, through
    ``transaction.atomic(using=using)``:

    * **outside** an ``atomic`` block it owns its transaction (``atomic`` begins and
      commits it), and the service retries the use case on transient conflicts;
    * **inside** one (the view's ``transaction.atomic``, or ``ATOMIC_REQUESTS``) it joins
      it: the use case runs in a savepoint that success releases and a business error
      rolls back to, so the block stays usable; nothing is durable until the block
      commits, and its rollback undoes the booking and returns the seats. The library
      cannot replay the block's earlier work, so a transient conflict there is
      ``CONCURRENCY_CONFLICT`` with ``details["retryable"] is True``.

    Args:
        using: the database alias, ``"default"`` unless given.

    Raises:
        ValueError: (a ``BusinessException`` with code ``STORAGE_UNAVAILABLE`` too) no
            such alias, or its backend is not SQLite, PostgreSQL or MariaDB/MySQL.

    Examples:
        >>> from reservation_core import ReservationService
        >>> service = ReservationService(lambda: DjangoUnitOfWork("default"))  # doctest: +SKIP
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self._rules, self._dialect = _database(using)
        connection = connections[using]
        self._using = using
        self._classify = self._rules.classify
        self.retryable = not connection.in_atomic_block
        self._atomic: transaction.Atomic | None = None
        self._connection: DjangoConnection | None = None

    def __enter__(self) -> Self:
        connection = DjangoConnection(connections[self._using], self._dialect)
        with translated(self._classify, connecting=True), connection.errors():
            connection.connection.ensure_connection()
        self._connection = connection
        # DjangoConnection offers exactly what the runner and the dialect rules call on a
        # SQLAlchemy Connection (dialect, execute, exec_driver_sql), which they are typed for.
        self._use(Runner(cast(Connection, connection), self._rules, self._begin))
        return super().__enter__()

    def _begin(self) -> None:
        """Enter ``atomic`` before the first statement: a transaction, or a savepoint."""
        if self._atomic is None:
            assert self._connection is not None  # noqa: S101 - only called while entered
            atomic = transaction.atomic(using=self._using)
            with self._connection.errors():
                atomic.__enter__()
            self._atomic = atomic

    def commit(self) -> None:
        """Commit the transaction, or release the savepoint inside the host's block."""
        atomic, self._atomic = self._atomic, None
        if atomic is None or self._connection is None:
            return
        with translated(self._classify, committing=self.retryable), self._connection.errors():
            atomic.__exit__(None, None, None)

    def rollback(self) -> None:
        """Roll back the transaction, or to the savepoint; a lost connection is closed."""
        atomic, self._atomic = self._atomic, None
        connection = self._connection
        if connection is None:
            return
        if atomic is not None:
            with contextlib.suppress(Exception):
                # A lost connection: Django closes it on a failed rollback; inside the
                # host's block, the block's own end reports it.
                atomic.__exit__(_RolledBack, _RolledBack(), None)
        if connection.lost and self.retryable:
            # Lost even before a transaction began (MySQLdb finds out when autocommit is
            # switched off): the next attempt reconnects rather than meet it again.
            with contextlib.suppress(Exception):
                connection.connection.close()

    def close(self) -> None:
        """Leave the connection to Django, which closes it at the end of the request."""
        self._connection = None


_DATABASES: dict[tuple[str, str], tuple[DialectRules, Dialect]] = {}


def _database(using: str) -> tuple[DialectRules, Dialect]:
    """The rules and dialect of an alias's database, found once per alias and backend."""
    try:
        connection = connections[using]
    except ConnectionDoesNotExist as error:
        raise UnsupportedDatabaseError(
            "STORAGE_UNAVAILABLE",
            f"DATABASES has no alias {using!r}",
            details={"reason": "unknown_alias", "alias": using},
        ) from error
    key = (using, connection.vendor)
    found = _DATABASES.get(key)
    if found is None:
        dialect = dialect_for(connection)
        found = _DATABASES[key] = (rules_for(dialect), dialect)
    return found
