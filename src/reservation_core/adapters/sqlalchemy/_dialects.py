"""Every difference between databases, each in one place, named for its reason (private)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, ClassVar

from sqlalchemy import (
    URL,
    Connection,
    Dialect,
    Engine,
    bindparam,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.sql.dml import Insert

from reservation_core.adapters.sqlalchemy._errors import Trouble
from reservation_core.adapters.sqlalchemy._scaleout import (
    GALERA_SYNC_WAIT,
    causal_reads_on_galera,
    no_prepared_statements_behind_a_pooler,
)
from reservation_core.adapters.sqlalchemy.tables import UtcDateTime, reservations, schedules
from reservation_core.domain import Reservation

# Parameter names never equal a column name: SQLAlchemy would turn such a key into an
# extra SET clause of an UPDATE.
_TAKE_SEATS = (
    update(schedules)
    .where(
        schedules.c.id == bindparam("p_schedule_id"),
        # capacity - q, not reserved + q: the sum could overflow a 32-bit column.
        schedules.c.reserved <= schedules.c.capacity - bindparam("p_quantity"),
    )
    .values(reserved=schedules.c.reserved + bindparam("p_quantity"))
)

_INSERT_RESERVATION = insert(reservations)
_RESERVATION_KEYS = [
    "id",
    "schedule_id",
    "user_id",
    "quantity",
    "status",
    "created_at",
    "updated_at",
]
_UTC_DATETIME = UtcDateTime()


def reservation_row(reservation: Reservation) -> dict[str, Any]:
    """The ``rc_reservations`` row of a reservation (keys: ``_RESERVATION_KEYS``)."""
    return {
        "id": reservation.id,
        "schedule_id": reservation.schedule_id,
        "user_id": reservation.user_id,
        "quantity": reservation.quantity,
        "status": str(reservation.status),
        "created_at": reservation.created_at,
        "updated_at": reservation.updated_at,
    }


def _book_in_one_statement() -> Insert:
    """PostgreSQL: take the seats and insert the reservation in one statement.

    The UPDATE runs in a data-modifying CTE whose RETURNING row feeds the INSERT: one
    round trip while the schedule row is locked instead of two.
    """
    taken = _TAKE_SEATS.returning(schedules.c.id).cte("taken")
    rows = select(
        bindparam("p_id", type_=reservations.c.id.type),
        taken.c.id,
        bindparam("p_user_id", type_=reservations.c.user_id.type),
        bindparam("p_quantity", type_=reservations.c.quantity.type),
        literal_column("'CONFIRMED'"),
        bindparam("p_created_at", type_=reservations.c.created_at.type),
        bindparam("p_created_at", type_=reservations.c.updated_at.type),
    )
    # SQLAlchemy keeps an INSERT's rowcount only when asked; it says whether seats were taken.
    return (
        insert(reservations)
        .from_select(_RESERVATION_KEYS, rows)
        .execution_options(preserve_rowcount=True)
    )


class DialectRules:
    """The portable behaviour; subclasses override what their database does differently."""

    #: Isolation the unit of work runs under; ``None`` keeps the connection's own.
    isolation_level: str | None = "READ COMMITTED"

    def connect(self, engine: Engine) -> Connection:
        """Check out a connection set up for a unit of work."""
        connection = engine.connect()
        wanted = self.isolation_level
        if wanted is not None and _configured_isolation(engine, connection) != wanted:
            # Costs a round trip on checkout and on return with some drivers (PyMySQL);
            # an engine created with isolation_level="READ COMMITTED" skips both.
            connection.execution_options(isolation_level=wanted)
        return connection

    def begin(self, connection: Connection) -> None:
        """Start the unit of work's transaction."""
        connection.begin()

    def release(self, connection: Connection) -> None:
        """Undo what :meth:`connect` changed, then return the connection to the pool."""
        connection.close()

    def book(self, connection: Connection, reservation: Reservation) -> bool:
        """Take the seats and insert the reservation; ``False`` if no seats were taken."""
        seats = {"p_schedule_id": reservation.schedule_id, "p_quantity": reservation.quantity}
        if connection.execute(_TAKE_SEATS, seats).rowcount != 1:
            return False
        connection.execute(_INSERT_RESERVATION, reservation_row(reservation))
        return True

    def book_and_commit(self, connection: Connection, reservation: Reservation) -> bool | None:
        """Book and commit in one atomic statement, outside any transaction.

        ``None`` where the database cannot: the caller books in a transaction instead.
        """
        return None

    def classify(self, error: BaseException | None) -> Trouble | None:
        """What a driver exception means, or ``None`` if this dialect does not know it."""
        return None


class PostgreSQLRules(DialectRules):
    """PostgreSQL: READ COMMITTED re-evaluates a blocked UPDATE's WHERE on the new row."""

    _book = _book_in_one_statement()
    _transient = frozenset({"40001", "40P01", "55P03"})
    _gone = frozenset({"57P01", "57P02", "57P03"})

    def connect(self, engine: Engine) -> Connection:
        """Behind a transaction-pooling proxy (PgBouncer), never a server-side prepare."""
        return no_prepared_statements_behind_a_pooler(super().connect(engine))

    def book(self, connection: Connection, reservation: Reservation) -> bool:
        params = {
            "p_id": reservation.id,
            "p_schedule_id": reservation.schedule_id,
            "p_user_id": reservation.user_id,
            "p_quantity": reservation.quantity,
            "p_created_at": reservation.created_at,
        }
        return connection.execute(self._book, params).rowcount == 1

    def book_and_commit(self, connection: Connection, reservation: Reservation) -> bool | None:
        """The booking statement in autocommit mode: it is its own transaction.

        One round trip in all, and the schedule row is locked only while the server runs
        the statement and flushes its commit: no ``BEGIN`` (which psycopg sends as a round
        trip of its own) and no ``COMMIT`` waiting on the client. psycopg switches
        autocommit without a round trip; it is switched back before the connection is
        used again, or the connection is discarded.
        """
        driver: Any = connection.connection.driver_connection
        driver.autocommit = True
        try:
            return self.book(connection, reservation)
        finally:
            try:
                driver.autocommit = False
            except Exception:  # noqa: BLE001 - a broken connection: never pool it again
                connection.invalidate()

    def classify(self, error: BaseException | None) -> Trouble | None:
        code = getattr(error, "sqlstate", None)  # psycopg
        if code in self._transient:
            return Trouble.TRANSIENT
        if code in self._gone or (isinstance(code, str) and code.startswith("08")):
            return Trouble.DISCONNECT
        if code == "23505":
            return Trouble.DUPLICATE
        if isinstance(code, str) and code.startswith("23"):
            return Trouble.INTEGRITY
        return None


class MySQLRules(DialectRules):
    """MariaDB and MySQL.

    REPEATABLE READ would let plain reads see a snapshot older than the locking writes
    that decide; READ COMMITTED makes every read see the latest commit and avoids most gap
    locks on the unique indexes.
    """

    _codes: ClassVar[MappingProxyType[object, Trouble]] = MappingProxyType(
        {
            1205: Trouble.TRANSIENT,  # lock wait timeout
            1213: Trouble.TRANSIENT,  # deadlock
            1062: Trouble.DUPLICATE,  # duplicate key
            4025: Trouble.INTEGRITY,  # CHECK violation, reported by PyMySQL as OperationalError
            3819: Trouble.INTEGRITY,  # CHECK violation on MySQL 8
            1927: Trouble.DISCONNECT,  # connection killed
            2002: Trouble.DISCONNECT,
            2003: Trouble.DISCONNECT,
            2006: Trouble.DISCONNECT,
            2013: Trouble.DISCONNECT,
            2055: Trouble.DISCONNECT,
        }
    )

    _driver_sql: ClassVar[dict[type[Dialect], tuple[str, str]]] = {}

    def connect(self, engine: Engine) -> Connection:
        """On a Galera node, reads wait for the commits of the other nodes."""
        return causal_reads_on_galera(super().connect(engine))

    def book(self, connection: Connection, reservation: Reservation) -> bool:
        """The two statements as SQL compiled once per dialect, run with ``exec_driver_sql``.

        The schedule row stays locked from the ``UPDATE`` until ``COMMIT``, so Python run
        between the statements is lock hold time, and with a client's threads sharing
        the GIL it grows under load. Prebuilt driver SQL skips the per-call compile-cache
        lookup and bind processing; the values are made driver-ready first.
        """
        dialect = connection.dialect
        sql = self._driver_sql.get(type(dialect))
        if sql is None:
            sql = self._driver_sql[type(dialect)] = (
                str(_TAKE_SEATS.compile(dialect=dialect)),
                str(_INSERT_RESERVATION.compile(dialect=dialect, column_keys=_RESERVATION_KEYS)),
            )
        row = reservation_row(reservation)
        row["created_at"] = _UTC_DATETIME.process_bind_param(reservation.created_at, dialect)
        row["updated_at"] = _UTC_DATETIME.process_bind_param(reservation.updated_at, dialect)
        seats = {"p_schedule_id": reservation.schedule_id, "p_quantity": reservation.quantity}
        if connection.exec_driver_sql(sql[0], seats).rowcount != 1:
            return False
        connection.exec_driver_sql(sql[1], row)
        return True

    def classify(self, error: BaseException | None) -> Trouble | None:
        args = getattr(error, "args", ())  # PyMySQL and mysqlclient: (errno, message)
        return self._codes.get(args[0]) if args else None


class SQLiteRules(DialectRules):
    """SQLite: no row locks, so a write transaction takes the database's write lock first.

    ``BEGIN IMMEDIATE`` makes two writers queue on the busy timeout at the start instead
    of deadlocking when both try to upgrade a read lock. The driver's own implicit BEGIN is
    switched off for the unit of work's connection and restored when it is released.
    """

    isolation_level = None
    _saved = "_reservation_core_isolation_level"

    def connect(self, engine: Engine) -> Connection:
        connection = engine.connect()
        driver = connection.connection.driver_connection
        connection.info[self._saved] = driver.isolation_level  # type: ignore[union-attr]
        driver.isolation_level = None  # type: ignore[union-attr]
        return connection

    def begin(self, connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    def release(self, connection: Connection) -> None:
        try:
            driver = connection.connection.driver_connection
            driver.isolation_level = connection.info.pop(self._saved)  # type: ignore[union-attr]
        finally:
            connection.close()

    def classify(self, error: BaseException | None) -> Trouble | None:
        code = getattr(error, "sqlite_errorcode", None)  # the extended result code
        if not isinstance(code, int):
            return None
        if code & 0xFF in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED and their extended codes
            return Trouble.TRANSIENT
        if code in (1555, 2067):  # SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
            return Trouble.DUPLICATE
        if code & 0xFF == 19:  # SQLITE_CONSTRAINT
            return Trouble.INTEGRITY
        return None


def _configured_isolation(engine: Engine, connection: Connection) -> str | None:
    """The isolation level the engine gives its connections, found without a round trip."""
    configured = engine.get_execution_options().get("isolation_level")
    configured = configured or getattr(engine.dialect, "isolation_level", None)
    return configured or connection.default_isolation_level


def recommended_engine_options(
    url: str | URL, *, dedicated: bool = False, pgbouncer: bool = False, galera: bool = False
) -> dict[str, Any]:
    """``create_engine`` options that spare each unit of work round trips on ``url``'s database.

    MariaDB/MySQL: ``isolation_level="READ COMMITTED"``; otherwise every checkout sets the
    session's isolation and every return resets it, two round trips per unit of work.

    ``dedicated=True``, for an engine that only ``SqlAlchemyUnitOfWork`` uses, adds
    ``pool_reset_on_return=None``: a unit of work always ends its transaction before it
    returns the connection (or discards a connection it cannot roll back), so the pool's
    own ``ROLLBACK`` on return is redundant; on MariaDB/MySQL it is a round trip per unit
    of work. Do not use it for an engine other code shares.

    ``pgbouncer=True``, for PostgreSQL behind PgBouncer in transaction pooling mode (or
    any pooler that hands each transaction another server connection): psycopg's
    automatic server-side prepared statements are switched off for every connection of
    the engine (``prepare_threshold=None``), the host's own queries included. The unit of
    work needs no option: it switches them off on its connections when it finds a pooler
    (see docs/scale-out.md).

    ``galera=True``, for a node of a MariaDB Galera cluster: every session starts with
    ``wsrep_sync_wait = 3``, so reads, updates and deletes see every commit the cluster
    made before them, whichever node made it. The unit of work sets it on its own
    connections when the server is a Galera node; the option extends it to the host's
    queries on the engine and spares that first check.

    Raises:
        ValueError: ``pgbouncer=True`` for a URL that is not PostgreSQL, ``galera=True``
            for one that is not MariaDB/MySQL.

    Example:
        >>> recommended_engine_options("mysql+pymysql://app@db/app")
        {'isolation_level': 'READ COMMITTED'}
        >>> recommended_engine_options("postgresql+psycopg://app@db/app", dedicated=True)
        {'pool_reset_on_return': None}
        >>> recommended_engine_options("postgresql+psycopg://app@pgbouncer/app", pgbouncer=True)
        {'connect_args': {'prepare_threshold': None}}
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    mysql = backend in ("mysql", "mariadb")
    if pgbouncer and backend != "postgresql":
        raise ValueError(f"pgbouncer=True is for PostgreSQL URLs, not {backend}")
    if galera and not mysql:
        raise ValueError(f"galera=True is for MariaDB URLs, not {backend}")
    options: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    if mysql:
        options["isolation_level"] = MySQLRules.isolation_level
    if dedicated:
        options["pool_reset_on_return"] = None
    if pgbouncer and parsed.get_driver_name() == "psycopg":
        # psycopg2 and pg8000 never prepare named statements: nothing to switch off.
        connect_args["prepare_threshold"] = None
    if galera:
        connect_args["init_command"] = f"SET SESSION wsrep_sync_wait = {GALERA_SYNC_WAIT}"
    if connect_args:
        options["connect_args"] = connect_args
    return options


def rules_for(engine: Engine) -> DialectRules:
    """The rules for ``engine``'s database."""
    name = engine.dialect.name
    if name == "postgresql":
        return _POSTGRESQL
    if name in ("mysql", "mariadb"):
        return _MYSQL
    if name == "sqlite":
        return _SQLITE
    return _PORTABLE


_POSTGRESQL, _MYSQL, _SQLITE = PostgreSQLRules(), MySQLRules(), SQLiteRules()
_PORTABLE = DialectRules()
