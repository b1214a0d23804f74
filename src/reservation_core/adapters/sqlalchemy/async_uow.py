"""AsyncSqlAlchemyUnitOfWork: the SQLAlchemy adapter for asyncio, through the same statements."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_scoped_session
from sqlalchemy.orm import Session

from reservation_core.ports import AbstractAsyncUnitOfWork, AbstractUnitOfWork

from ._dialects import rules_for
from ._errors import Classifier, UnsupportedDatabaseError, translated
from .uow import SqlAlchemyUnitOfWork

__all__ = ["AsyncSqlAlchemyUnitOfWork"]

T = TypeVar("T")
AsyncBind = AsyncEngine | AsyncConnection | AsyncSession | async_scoped_session[AsyncSession]


class AsyncSqlAlchemyUnitOfWork(AbstractAsyncUnitOfWork):
    """A unit of work on the host's ``AsyncEngine``, or inside its own asyncio transaction.

    :class:`~reservation_core.adapters.sqlalchemy.SqlAlchemyUnitOfWork` for
    :class:`~reservation_core.AsyncReservationService`, with the same behaviour: given an
    ``AsyncEngine``, each unit of work checks out a connection of its own, runs the use
    case in its own transaction and returns the connection; given an ``AsyncConnection``
    or an ``AsyncSession`` (or an ``async_scoped_session``: the current one), it joins the
    host's transaction in a ``SAVEPOINT``, never commits it, and is not retried (a
    transient conflict is ``CONCURRENCY_CONFLICT`` with ``details["retryable"] is True``).

    The statements, the per-database rules and the per-driver error reading are the sync
    adapter's: SQLAlchemy runs them on the asyncio driver through its greenlet bridge
    (``run_sync``), so the event loop is never blocked while the database works, and no
    thread is involved. A task cancelled mid-use-case rolls back what was not committed
    and returns (or, when it cannot roll back, discards) the connection.

    Supported drivers: asyncpg and psycopg 3 (async) on PostgreSQL, aiomysql on
    MariaDB/MySQL, aiosqlite on SQLite (see docs/drivers.md).

    Args:
        bind: an ``AsyncEngine``, ``AsyncConnection`` or ``AsyncSession`` whose database has
            the ``rc_`` tables.

    Raises:
        ValueError: (a ``BusinessException`` with code ``STORAGE_UNAVAILABLE`` too) the
            database or driver is not supported, or ``bind`` is not one of the three (a
            sync ``Engine`` belongs to ``SqlAlchemyUnitOfWork``).

    Examples:
        >>> from sqlalchemy.ext.asyncio import create_async_engine
        >>> from reservation_core import AsyncReservationService
        >>> engine = create_async_engine("postgresql+asyncpg://app@db/app")  # doctest: +SKIP
        >>> service = AsyncReservationService(
        ...     lambda: AsyncSqlAlchemyUnitOfWork(engine))  # doctest: +SKIP
        >>> await service.create_reservation("yoga-monday", "alice")  # doctest: +SKIP
    """

    def __init__(self, bind: AsyncBind) -> None:
        if isinstance(bind, AsyncEngine | AsyncConnection):
            dialect = bind.dialect
        elif isinstance(bind, AsyncSession | async_scoped_session):
            session = bind() if isinstance(bind, async_scoped_session) else bind
            dialect = session.sync_session.get_bind().dialect
        else:
            raise _unsupported_bind(bind)
        self._bind = bind
        self._rules = rules_for(dialect)
        self.retryable = isinstance(bind, AsyncEngine)

    @property
    def _one_writer(self) -> bool:
        """Whether the database writes one transaction at a time (read by group commit)."""
        return self._rules.one_writer

    async def run(self, use_case: Callable[[AbstractUnitOfWork], T]) -> T:
        """Run ``use_case`` over the sync unit of work, on this one's connection."""
        bind = self._bind
        if isinstance(bind, AsyncEngine):
            connection = await _checked_out(bind, self._rules.classify)
            try:
                return await connection.run_sync(_within, SqlAlchemyUnitOfWork._owning, use_case)
            finally:
                # Released by the unit of work already, unless the greenlet never ran it.
                await _uncancelled(connection.close())
        if isinstance(bind, AsyncConnection):
            return await bind.run_sync(_within, SqlAlchemyUnitOfWork, use_case)
        session = bind() if isinstance(bind, async_scoped_session) else bind
        return await session.run_sync(_within, SqlAlchemyUnitOfWork, use_case)


async def _checked_out(engine: AsyncEngine, classify: Classifier) -> AsyncConnection:
    """A connection from ``engine``'s pool, returned to it if the task is cancelled meanwhile.

    Without the shield, a task cancelled while the pool hands a connection over loses the
    connection and its pool slot (seen with SQLAlchemy 2.0 and aiomysql).
    """
    connection = engine.connect()
    with translated(classify, connecting=True):
        await _uncancelled(connection.start(), undo=connection.close)
    return connection


async def _uncancelled(
    work: Coroutine[Any, Any, Any], undo: Callable[[], Coroutine[Any, Any, Any]] | None = None
) -> None:
    """Await ``work`` to its end even if this task is cancelled meanwhile, then re-raise.

    On cancellation ``undo()`` (when given) runs after ``work`` succeeded, before the
    ``CancelledError`` goes on.
    """
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            await task
        except Exception:  # noqa: BLE001 - it failed: nothing to undo
            raise asyncio.CancelledError from None
        if undo is not None:
            await undo()
        raise


def _within(
    bind: Connection | Session,
    make: Callable[[Any], SqlAlchemyUnitOfWork],
    use_case: Callable[[AbstractUnitOfWork], T],
) -> T:
    with make(bind) as uow:
        return use_case(uow)


def _unsupported_bind(bind: object) -> UnsupportedDatabaseError:
    name = type(bind).__name__
    return UnsupportedDatabaseError(
        "STORAGE_UNAVAILABLE",
        "AsyncSqlAlchemyUnitOfWork takes a SQLAlchemy AsyncEngine, AsyncConnection or "
        f"AsyncSession, not {name}; a sync Engine, Connection or Session belongs to "
        "SqlAlchemyUnitOfWork and ReservationService",
        details={"reason": "unsupported_bind", "bind": name},
    )
