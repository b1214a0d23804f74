"""MariaDB and MySQL: PyMySQL, mysqlclient, mysql-connector-python, MariaDB Connector/Python.

And aiomysql for asyncio.

REPEATABLE READ, the server's default, would let plain reads see a snapshot older than the
locking writes that decide; READ COMMITTED makes every read see the latest commit and
avoids most gap locks on the unique indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from sqlalchemy import Connection, Dialect
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from reservation_core.adapters.sqlalchemy import _statements as sql
from reservation_core.adapters.sqlalchemy._errors import Trouble
from reservation_core.domain import Reservation

from .._base import DialectRules, driver_booking, driver_cursor, driver_instant
from ._galera import GALERA, GALERA_SYNC_WAIT, causal_reads_on_galera
from ._group import SINCE, book_group_in_one_script
from ._scripts import BOOK_AND_COMMIT
from ._session import (
    FOUND_ROWS,
    MARIADB_EXACT,
    MULTI_STATEMENTS,
    MYSQL_EXACT,
    READ_COMMITTED,
    configured_isolation,
)


class MySQLRules(DialectRules):
    """MariaDB and MySQL, whatever the driver: error codes are the server's errno."""

    dialect = "mysql"
    names = ("mysql", "mariadb")  # SQLAlchemy names the dialect "mariadb" for mariadb:// URLs
    async_drivers = ("aiomysql",)

    @classmethod
    def id_type(cls, dialect: Dialect) -> TypeEngine[Any]:
        """A binary NO PAD collation: ``"a"``, ``"A"`` and ``"a "`` stay three ids.

        The default collations fold case and ignore trailing spaces.
        """
        exact = MARIADB_EXACT if getattr(dialect, "is_mariadb", False) else MYSQL_EXACT
        return dialect.type_descriptor(mysql.VARCHAR(64, charset="utf8mb4", collation=exact))

    @classmethod
    def instant_type(cls, dialect: Dialect) -> TypeEngine[Any]:
        """``DATETIME(6)``: microseconds, no time zone (naive UTC is stored)."""
        return dialect.type_descriptor(mysql.DATETIME(fsp=6))

    @classmethod
    def engine_options(
        cls, driver: str, *, dedicated: bool, pgbouncer: bool, galera: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """READ COMMITTED for the engine; scripts through PyMySQL; causal reads on Galera."""
        super().engine_options(driver, dedicated=dedicated, pgbouncer=pgbouncer, galera=False)
        connect_args: dict[str, Any] = {}
        if dedicated and driver == "pymysql":
            # The dialect's own client_flag (FOUND_ROWS) is replaced, not added to: keep it.
            connect_args["client_flag"] = FOUND_ROWS | MULTI_STATEMENTS
        if galera:
            connect_args["init_command"] = f"SET SESSION wsrep_sync_wait = {GALERA_SYNC_WAIT}"
        return {"isolation_level": cls.isolation_level}, connect_args

    troubles: ClassVar[Mapping[object, Trouble]] = MappingProxyType(
        {
            1205: Trouble.TRANSIENT,  # lock wait timeout
            1213: Trouble.TRANSIENT,  # deadlock, or a Galera certification conflict
            1969: Trouble.TRANSIENT,  # MariaDB max_statement_time: our statements wait on locks
            3024: Trouble.TRANSIENT,  # MySQL max_execution_time
            1062: Trouble.DUPLICATE,  # duplicate key
            4025: Trouble.INTEGRITY,  # CHECK violation (MariaDB)
            3819: Trouble.INTEGRITY,  # CHECK violation (MySQL 8)
            1927: Trouble.DISCONNECT,  # connection killed
            2002: Trouble.DISCONNECT,  # cannot connect (socket)
            2003: Trouble.DISCONNECT,  # cannot connect (TCP)
            2006: Trouble.DISCONNECT,  # server has gone away
            2013: Trouble.DISCONNECT,  # lost connection during a query
            2055: Trouble.DISCONNECT,  # lost connection (system error)
        }
    )

    def prepare(self, connection: Connection) -> Connection:
        """On a Galera node, reads wait for the commits of the other nodes."""
        return causal_reads_on_galera(connection)

    def begin(self, connection: Connection) -> None:
        """Start a transaction at READ COMMITTED.

        An engine created with ``isolation_level="READ COMMITTED"`` costs nothing more.
        Otherwise ``SET TRANSACTION`` (one round trip) sets it for this transaction only:
        the session is left as it was, so nothing needs restoring when the connection goes
        back to the pool, where a connection killed during a restore would escape as a raw
        driver error and never return its pool slot.
        """
        connection.begin()
        if configured_isolation(connection) != self.isolation_level:
            connection.exec_driver_sql(READ_COMMITTED)

    def book(self, connection: Connection, reservation: Reservation) -> bool:
        """The three statements as driver SQL compiled once per dialect and paramstyle.

        The schedule row stays locked from the ``UPDATE`` until ``COMMIT``, so Python run
        between the statements is lock hold time, and with a client's threads sharing
        the GIL it grows under load.
        """
        (take, take_params), *rest = driver_booking(connection.dialect, reservation)
        if connection.exec_driver_sql(take, take_params).rowcount != 1:
            return False
        for statement, params in rest:
            connection.exec_driver_sql(statement, params)
        return True

    def book_and_commit(self, connection: Connection, reservation: Reservation) -> bool | None:
        """The booking and its ``COMMIT`` as one script, where the connection accepts one.

        One round trip, and the schedule row is locked only while the server runs the
        script: no client round trip, and no wait for this process's GIL, while it is
        held. ``None`` (book statement by statement) on a connection made without
        ``CLIENT_MULTI_STATEMENTS`` (see ``recommended_engine_options(dedicated=True)``).
        On an error the server stops at the failing statement and the transaction is
        rolled back before the error is raised. Not on a Galera node, where a write set
        refused at certification leaves the script's results unreadable (the connection
        would be discarded and the outcome reported unknown): statement by statement there.
        """
        pooled = connection.connection
        if connection.info.get(GALERA) or not self.multi_statements(pooled.driver_connection):
            return None
        isolated = configured_isolation(connection) == self.isolation_level
        script, shape = BOOK_AND_COMMIT[isolated].for_dialect(connection.dialect)
        params = sql.booking_params(reservation)
        instant = driver_instant(connection.dialect)
        params["p_created_at"] = instant(reservation.created_at)
        params["p_expires_at"] = instant(reservation.expires_at)
        params["reservation_id"] = reservation.id
        with driver_cursor(connection, script) as cursor:
            cursor.execute(script, shape(params))
            counts = [cursor.rowcount]
            while cursor.nextset():  # raises the error of a later statement, if any
                counts.append(cursor.rowcount)
        return bool(counts[0 if isolated else 1] == 1)

    def multi_statements(self, driver_connection: Any) -> bool:
        """Whether the connection accepts several statements in one query."""
        return False

    def book_group_and_commit(
        self, connection: Connection, group: list[Reservation]
    ) -> list[bool] | None:
        """One script on a MariaDB connection that takes one; on a Galera node, no group.

        See ``_group``: one round trip decides, books and commits the group.
        Elsewhere (MySQL, MariaDB before 10.6, a connection made without
        ``CLIENT_MULTI_STATEMENTS``) ``None``: the caller books the group statement by
        statement.

        On Galera, each node locks rows for itself and the cluster certifies write sets at
        commit, so a group conflicts with any booking of its schedule on another node, as a whole,
        and the suites saw a member told ``DUPLICATE_RESERVATION`` of its own booking.
        Until that is understood, Galera books one by one (the ``False`` members are
        booked alone by the service, exactly as without group commit).
        """
        if connection.info.get(GALERA):
            return [False] * len(group)
        dialect = connection.dialect
        if (
            not getattr(dialect, "is_mariadb", False)
            or (dialect.server_version_info or ()) < SINCE
            or not self.multi_statements(connection.connection.driver_connection)
        ):
            return None
        isolated = configured_isolation(connection) == self.isolation_level
        return book_group_in_one_script(self, connection, group, isolated)

    def skips_locked_rows(self, connection: Connection) -> bool:
        """MariaDB from 10.6 and MySQL from 8.0.1; not when the server's version is unknown."""
        dialect = connection.dialect
        version = dialect.server_version_info or ()
        mariadb = getattr(dialect, "is_mariadb", False)
        return version >= (SINCE if mariadb else (8, 0, 1))  # MariaDB 10.6 brought it too


class PyMySQLRules(MySQLRules):
    """PyMySQL: ``error.args == (errno, message)``."""

    driver = "pymysql"

    def multi_statements(self, driver_connection: Any) -> bool:
        return bool(getattr(driver_connection, "client_flag", 0) & MULTI_STATEMENTS)

    def in_autocommit(self, dbapi_connection: Any) -> bool:
        return bool(dbapi_connection.get_autocommit())

    def error_code(self, error: BaseException | None) -> object | None:
        args = getattr(error, "args", ())
        return args[0] if args else None


class MySQLdbRules(PyMySQLRules):
    """mysqlclient (``MySQLdb``): ``error.args == (errno, message)``, as PyMySQL."""

    driver = "mysqldb"

    def multi_statements(self, driver_connection: Any) -> bool:
        return False  # mysqlclient does not say which flags a connection has


class AioMySQLRules(PyMySQLRules):
    """aiomysql (asyncio), built on PyMySQL: its errors are PyMySQL's, ``args[0]`` the errno."""

    driver = "aiomysql"

    def multi_statements(self, driver_connection: Any) -> bool:
        return False  # the one-query booking reads results PyMySQL's way: statement by statement


class MySQLConnectorRules(MySQLRules):
    """mysql-connector-python: ``error.errno``."""

    driver = "mysqlconnector"

    def error_code(self, error: BaseException | None) -> object | None:
        return getattr(error, "errno", None)


class MariaDBConnectorRules(MySQLConnectorRules):
    """MariaDB Connector/Python: ``error.errno``, as mysql-connector-python."""

    driver = "mariadbconnector"


DRIVERS: tuple[type[MySQLRules], ...] = (
    PyMySQLRules,
    MySQLdbRules,
    AioMySQLRules,
    MySQLConnectorRules,
    MariaDBConnectorRules,
)
#: The database's own rules, whatever the driver.
DATABASE = MySQLRules
