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

from sqlalchemy import Connection

from reservation_core.adapters.sqlalchemy import _statements as sql
from reservation_core.adapters.sqlalchemy._errors import Trouble
from reservation_core.adapters.sqlalchemy._scaleout import causal_reads_on_galera
from reservation_core.adapters.sqlalchemy.tables import UtcDateTime
from reservation_core.domain import Reservation

from ._base import DialectRules

_TAKE_SEATS = sql.DriverSQL(sql.TAKE_SEATS)
_INSERT_RESERVATION = sql.DriverSQL(sql.INSERT_RESERVATION, sql.RESERVATION_KEYS)
_APPEND_EVENT = sql.DriverSQL(sql.APPEND_EVENT, sql.EVENT_KEYS)
_UTC_DATETIME = UtcDateTime()
_READ_COMMITTED = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"


class MySQLRules(DialectRules):
    """MariaDB and MySQL, whatever the driver: error codes are the server's errno."""

    dialect = "mysql"
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
        if _configured_isolation(connection) != self.isolation_level:
            connection.exec_driver_sql(_READ_COMMITTED)

    def book(self, connection: Connection, reservation: Reservation) -> bool:
        """The three statements as driver SQL compiled once per dialect and paramstyle.

        The schedule row stays locked from the ``UPDATE`` until ``COMMIT``, so Python run
        between the statements is lock hold time, and with a client's threads sharing
        the GIL it grows under load.
        """
        dialect = connection.dialect
        take, take_params = _TAKE_SEATS.for_dialect(dialect)
        if connection.exec_driver_sql(take, take_params(sql.seats_of(reservation))).rowcount != 1:
            return False
        row = sql.reservation_row(reservation)
        row["created_at"] = _UTC_DATETIME.process_bind_param(reservation.created_at, dialect)
        row["updated_at"] = _UTC_DATETIME.process_bind_param(reservation.updated_at, dialect)
        row["expires_at"] = _UTC_DATETIME.process_bind_param(reservation.expires_at, dialect)
        insert, insert_params = _INSERT_RESERVATION.for_dialect(dialect)
        connection.exec_driver_sql(insert, insert_params(row))
        event = sql.event_row(reservation)
        event["occurred_at"] = row["updated_at"]
        append, append_params = _APPEND_EVENT.for_dialect(dialect)
        connection.exec_driver_sql(append, append_params(event))
        return True


class PyMySQLRules(MySQLRules):
    """PyMySQL: ``error.args == (errno, message)``."""

    driver = "pymysql"

    def in_autocommit(self, dbapi_connection: Any) -> bool:
        return bool(dbapi_connection.get_autocommit())

    def error_code(self, error: BaseException | None) -> object | None:
        args = getattr(error, "args", ())
        return args[0] if args else None


class MySQLdbRules(PyMySQLRules):
    """mysqlclient (``MySQLdb``): ``error.args == (errno, message)``, as PyMySQL."""

    driver = "mysqldb"


class AioMySQLRules(PyMySQLRules):
    """aiomysql (asyncio), built on PyMySQL: its errors are PyMySQL's, ``args[0]`` the errno."""

    driver = "aiomysql"


class MySQLConnectorRules(MySQLRules):
    """mysql-connector-python: ``error.errno``."""

    driver = "mysqlconnector"

    def error_code(self, error: BaseException | None) -> object | None:
        return getattr(error, "errno", None)


class MariaDBConnectorRules(MySQLConnectorRules):
    """MariaDB Connector/Python: ``error.errno``, as mysql-connector-python."""

    driver = "mariadbconnector"


def _configured_isolation(connection: Connection) -> str | None:
    """The isolation level the connection's transactions get, found without a round trip."""
    engine = connection.engine
    configured = engine.get_execution_options().get("isolation_level")
    configured = configured or getattr(engine.dialect, "isolation_level", None)
    return configured or connection.default_isolation_level


DRIVERS: tuple[type[MySQLRules], ...] = (
    PyMySQLRules,
    MySQLdbRules,
    AioMySQLRules,
    MySQLConnectorRules,
    MariaDBConnectorRules,
)
