"""SQLite through the standard library's ``sqlite3``.

No row locks: a write transaction takes the database's write lock first. ``BEGIN
IMMEDIATE`` makes two writers queue on the busy timeout at the start instead of deadlocking
when both try to upgrade a read lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from sqlalchemy import Connection

from reservation_core.adapters.sqlalchemy._errors import Trouble
from reservation_core.domain import Reservation

from .._base import DialectRules, driver_booking, driver_cursor

_SAVED = "_reservation_core_isolation_level"


class SQLiteRules(DialectRules):
    """SQLite (``pysqlite``): the extended result code in ``error.sqlite_errorcode``.

    The driver's own implicit ``BEGIN`` is switched off for the unit of work's connection,
    so that it can say ``BEGIN IMMEDIATE``, and restored when the connection is released.
    """

    dialect = "sqlite"
    driver = "pysqlite"
    names = ("sqlite",)
    async_drivers = ("aiosqlite",)
    isolation_level = None
    one_writer = True  # a second writer sleeps on the busy timeout until the first commits
    troubles: ClassVar[Mapping[object, Trouble]] = MappingProxyType(
        {
            1555: Trouble.DUPLICATE,  # SQLITE_CONSTRAINT_PRIMARYKEY
            2067: Trouble.DUPLICATE,  # SQLITE_CONSTRAINT_UNIQUE
        }
    )

    def prepare(self, connection: Connection) -> Connection:
        # The DB-API connection: for aiosqlite, SQLAlchemy's adapter, which sets the
        # isolation level on aiosqlite's own thread.
        driver = connection.connection.dbapi_connection
        connection.info[_SAVED] = driver.isolation_level  # type: ignore[union-attr]
        driver.isolation_level = None  # type: ignore[union-attr]
        return connection

    def begin(self, connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    def join(self, connection: Connection) -> None:
        """Join the host's transaction, beginning it where the driver has not yet.

        ``sqlite3`` sends no ``BEGIN`` until the first write, and a ``SAVEPOINT`` outside a
        transaction starts one that its ``RELEASE`` commits: the booking would be durable
        before, and whatever, the host decides. ``BEGIN IMMEDIATE`` starts the host's
        transaction in the database (the host's commit or rollback ends it) and takes the
        write lock at once, as the unit of work's own transactions do.
        """
        if not connection.in_transaction():
            connection.begin()
        driver = connection.connection.driver_connection  # sqlite3's, or aiosqlite's
        if not driver.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    def book_and_commit(self, connection: Connection, reservation: Reservation) -> bool:
        """``BEGIN IMMEDIATE``, the booking and ``COMMIT`` straight on the driver.

        The database's write lock is held from ``BEGIN IMMEDIATE`` to ``COMMIT``: with
        nothing but the driver's calls between them, it is held for the least Python,
        which other threads (and the GIL they hold) would otherwise lengthen.
        """
        (take, take_params), *rest = driver_booking(connection.dialect, reservation)
        with driver_cursor(connection, take) as cursor:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(take, take_params)
            if cursor.rowcount != 1:
                cursor.execute("ROLLBACK")
                return False
            for statement, params in rest:
                cursor.execute(statement, params)
            cursor.execute("COMMIT")
        return True

    def release(self, connection: Connection) -> None:
        try:
            driver = connection.connection.dbapi_connection
            driver.isolation_level = connection.info.pop(_SAVED)  # type: ignore[union-attr]
        finally:
            connection.close()

    def error_code(self, error: BaseException | None) -> object | None:
        return getattr(error, "sqlite_errorcode", None)

    def classify(self, error: BaseException | None) -> Trouble | None:
        code = self.error_code(error)
        if not isinstance(code, int):
            return None
        if code & 0xFF in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED and their extended codes
            return Trouble.TRANSIENT
        if code & 0xFF == 19:  # SQLITE_CONSTRAINT: unique, or another constraint
            return self.troubles.get(code, Trouble.INTEGRITY)
        return None


class AioSQLiteRules(SQLiteRules):
    """aiosqlite (asyncio): ``sqlite3`` on a thread of its own, the same errors."""

    driver = "aiosqlite"


DRIVERS: tuple[type[SQLiteRules], ...] = (SQLiteRules, AioSQLiteRules)
#: The database's own rules, whatever the driver.
DATABASE = SQLiteRules
