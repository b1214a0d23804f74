"""PostgreSQL: psycopg 3 (sync and asyncio), psycopg2, pg8000 and asyncpg (asyncio).

READ COMMITTED (the server's default) re-evaluates a blocked ``UPDATE``'s ``WHERE`` on the
row as the winner committed it: that is what makes the conditional seat update safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from sqlalchemy import Connection

from reservation_core.adapters.sqlalchemy import _statements as sql
from reservation_core.adapters.sqlalchemy._errors import Trouble
from reservation_core.domain import Reservation

from .._base import DialectRules
from . import _statements as pg
from ._pooler import autocommit, no_prepared_statements_behind_a_pooler


class PostgreSQLRules(DialectRules):
    """PostgreSQL, whatever the driver: error codes are SQLSTATEs."""

    dialect = "postgresql"
    names = ("postgresql",)
    async_drivers = ("asyncpg", "psycopg")  # psycopg 3 serves both worlds
    stores_time_zones = True

    @classmethod
    def engine_options(
        cls, driver: str, *, dedicated: bool, pgbouncer: bool, galera: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Behind PgBouncer, psycopg 3 never prepares statements on the server."""
        super().engine_options(driver, dedicated=dedicated, pgbouncer=False, galera=galera)
        # psycopg2 and pg8000 never prepare named statements: nothing to switch off.
        connect_args = {"prepare_threshold": None} if pgbouncer and driver == "psycopg" else {}
        return {}, connect_args

    troubles: ClassVar[Mapping[object, Trouble]] = MappingProxyType(
        {
            "40001": Trouble.TRANSIENT,  # serialization failure
            "40P01": Trouble.TRANSIENT,  # deadlock detected
            "55P03": Trouble.TRANSIENT,  # lock not available (lock_timeout)
            "57014": Trouble.TRANSIENT,  # statement_timeout: our statements only wait on locks
            # A write on a server that is (now) a standby: a primary demoted in a
            # failover, reached through a connection made before it. Not this connection
            # again: a fresh one finds the new primary.
            "25006": Trouble.DISCONNECT,  # read-only SQL transaction
            "57P01": Trouble.DISCONNECT,  # admin shutdown (pg_terminate_backend)
            "57P02": Trouble.DISCONNECT,  # crash shutdown
            "57P03": Trouble.DISCONNECT,  # cannot connect now
            "23505": Trouble.DUPLICATE,  # unique violation
        }
    )

    def classify(self, error: BaseException | None) -> Trouble | None:
        code = self.error_code(error)
        if not isinstance(code, str):
            return None
        known = self.troubles.get(code)
        if known is not None:
            return known
        if code.startswith("08"):  # connection exception
            return Trouble.DISCONNECT
        if code.startswith("23"):  # other integrity constraint violations
            return Trouble.INTEGRITY
        return None

    def prepare(self, connection: Connection) -> Connection:
        """Behind a transaction-pooling proxy (PgBouncer), never a server-side prepare."""
        return no_prepared_statements_behind_a_pooler(connection)

    def book(self, connection: Connection, reservation: Reservation) -> bool:
        params = sql.booking_params(reservation)
        return connection.execute(pg.BOOK_IN_ONE_STATEMENT, params).rowcount == 1

    def transition(self, connection: Connection, params: dict[str, Any]) -> bool:
        return connection.execute(pg.TRANSITION_WITH_EVENT, params).rowcount == 1

    def book_group_and_commit(
        self, connection: Connection, group: list[Reservation]
    ) -> list[bool] | None:
        """The group's statement in autocommit mode: one round trip books and commits it."""
        params = pg.group_params(group)
        with autocommit(connection):
            booked = set(connection.execute(pg.BOOK_GROUP_IN_ONE_STATEMENT, params).scalars())
        return [r.id in booked for r in group]

    def book_and_commit(self, connection: Connection, reservation: Reservation) -> bool | None:
        """The booking statement in autocommit mode: it is its own transaction.

        One round trip in all, and the schedule row is locked only while the server runs
        the statement and flushes its commit: no ``BEGIN`` (which the drivers send as a
        round trip of their own) and no ``COMMIT`` waiting on the client. The drivers
        switch autocommit without a round trip; it is switched back before the connection
        is used again, or the connection is discarded.
        """
        with autocommit(connection):
            return self.book(connection, reservation)


class PsycopgRules(PostgreSQLRules):
    """psycopg 3: ``error.sqlstate``."""

    driver = "psycopg"

    def error_code(self, error: BaseException | None) -> object | None:
        return getattr(error, "sqlstate", None)


class AsyncpgRules(PostgreSQLRules):
    """asyncpg (asyncio), whose errors SQLAlchemy's adapter re-raises as DB-API ones.

    The adapter copies the code to ``error.sqlstate``; asyncpg's own exception, chained
    as the cause, has it too.
    """

    driver = "asyncpg"

    def error_code(self, error: BaseException | None) -> object | None:
        code = getattr(error, "sqlstate", None)
        if code is None and error is not None:
            code = getattr(error.__cause__, "sqlstate", None)
        return code


class Psycopg2Rules(PostgreSQLRules):
    """psycopg2: ``error.pgcode``."""

    driver = "psycopg2"

    def error_code(self, error: BaseException | None) -> object | None:
        return getattr(error, "pgcode", None)


class Pg8000Rules(PostgreSQLRules):
    """pg8000: the server's error fields as a dict in ``error.args[0]``; ``C`` is the code."""

    driver = "pg8000"

    def error_code(self, error: BaseException | None) -> object | None:
        args = getattr(error, "args", ())
        fields = args[0] if args else None
        return fields.get("C") if isinstance(fields, dict) else None


DRIVERS: tuple[type[PostgreSQLRules], ...] = (
    PsycopgRules,
    Psycopg2Rules,
    Pg8000Rules,
    AsyncpgRules,
)
#: The database's own rules, whatever the driver.
DATABASE = PostgreSQLRules
