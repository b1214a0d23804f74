"""What every backend shares; each backend module overrides only what it does differently."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from sqlalchemy import Connection, DateTime, Dialect, Engine, String
from sqlalchemy import exc as sa_exc
from sqlalchemy.types import TypeEngine

from reservation_core.adapters.sqlalchemy import _statements as sql
from reservation_core.adapters.sqlalchemy._driver_sql import DriverSQL
from reservation_core.adapters.sqlalchemy._errors import Trouble
from reservation_core.adapters.sqlalchemy.tables import UtcDateTime
from reservation_core.domain import Reservation
from reservation_core.errors import BusinessException, ErrorCode


class DialectRules:
    """A backend's behaviour through one driver.

    A backend module subclasses this once for the database (locking, isolation, the
    fastest safe booking, what its error codes mean) and once per driver for how that
    driver reports the server's error code (:meth:`error_code`), as SQLAlchemy's own
    dialects do with ``_extract_error_code``.
    """

    #: The SQLAlchemy dialect name (``engine.dialect.name``) and driver name.
    dialect: ClassVar[str] = ""
    driver: ClassVar[str] = ""
    #: Isolation a unit of work runs under; ``None`` keeps the connection's own.
    isolation_level: ClassVar[str | None] = "READ COMMITTED"
    #: The server's error codes (SQLSTATE, errno or result code) and what they mean.
    troubles: ClassVar[Mapping[object, Trouble]] = MappingProxyType({})
    #: Whether the database takes one writing transaction at a time (the others wait for
    #: it): group commit then books one group at a time instead of two at once.
    one_writer: ClassVar[bool] = False
    #: The names SQLAlchemy gives the database (``URL.get_backend_name()``); the first
    #: is the one messages use.
    names: ClassVar[tuple[str, ...]] = ()
    #: The database's asyncio drivers the library supports, the default first.
    async_drivers: ClassVar[tuple[str, ...]] = ()
    #: Whether the database's timestamp column keeps a time zone (else naive UTC is stored).
    stores_time_zones: ClassVar[bool] = False

    @classmethod
    def id_type(cls, dialect: Dialect) -> TypeEngine[Any]:
        """The column type of an identifier: 64 characters, compared exactly."""
        return dialect.type_descriptor(String(64))

    @classmethod
    def instant_type(cls, dialect: Dialect) -> TypeEngine[Any]:
        """The column type of a UTC instant with microseconds."""
        return dialect.type_descriptor(DateTime(timezone=True))

    @classmethod
    def engine_options(
        cls, driver: str, *, dedicated: bool, pgbouncer: bool, galera: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The database's part of ``recommended_engine_options``: options, ``connect_args``.

        Raises:
            ValueError: an option for another database (``pgbouncer``, ``galera``).
        """
        backend = cls.names[0] if cls.names else cls.dialect
        if pgbouncer:
            raise ValueError(f"pgbouncer=True is for PostgreSQL URLs, not {backend}")
        if galera:
            raise ValueError(f"galera=True is for MariaDB URLs, not {backend}")
        return {}, {}

    def connect(self, engine: Engine) -> Connection:
        """Check out a connection set up for a unit of work."""
        return self.prepare(engine.connect())

    def prepare(self, connection: Connection) -> Connection:
        """Set up a connection just checked out for a unit of work of its own."""
        return connection

    def begin(self, connection: Connection) -> None:
        """Start the unit of work's own transaction."""
        connection.begin()

    def join(self, connection: Connection) -> None:
        """Make sure the host's connection is in a transaction the unit of work can join.

        Raises:
            BusinessException: ``STORAGE_UNAVAILABLE`` when the connection is in
                autocommit mode: every statement would commit on its own, so a booking
                could not be atomic, nor undone by the host.
        """
        if self.in_autocommit(connection.connection.dbapi_connection):
            raise BusinessException(
                ErrorCode.STORAGE_UNAVAILABLE,
                "The host's connection is in AUTOCOMMIT mode: there is no transaction to "
                "join. Book on a connection in a transaction, or give SqlAlchemyUnitOfWork "
                "the engine.",
                details={"reason": "host_connection_autocommits"},
            )
        if not connection.in_transaction():
            connection.begin()

    def in_autocommit(self, dbapi_connection: Any) -> bool:
        """Whether the driver commits every statement by itself (as this driver says it).

        ``dbapi_connection`` is the driver's connection, or for an asyncio driver
        SQLAlchemy's DB-API adapter of it.
        """
        return bool(getattr(dbapi_connection, "autocommit", False))

    def release(self, connection: Connection) -> None:
        """Undo what :meth:`connect` changed, then return the connection to the pool."""
        connection.close()

    def book(self, connection: Connection, reservation: Reservation) -> bool:
        """Take the seats and insert the reservation; ``False`` if no seats were taken."""
        if connection.execute(sql.TAKE_SEATS, sql.seats_of(reservation)).rowcount != 1:
            return False
        connection.execute(sql.INSERT_RESERVATION, sql.reservation_row(reservation))
        connection.execute(sql.APPEND_EVENT, sql.event_row(reservation))
        return True

    def transition(self, connection: Connection, params: dict[str, Any]) -> bool:
        """Compare-and-set a reservation's status and append its event; ``False`` if not moved.

        ``params`` come from :func:`._statements.transition_params`.
        """
        if connection.execute(sql.TRANSITION, params).rowcount != 1:
            return False
        connection.execute(sql.APPEND_TRANSITION_EVENT, params)
        return True

    def skips_locked_rows(self, connection: Connection) -> bool:
        """Whether a locking read may skip rows other transactions hold (``SKIP LOCKED``).

        Housekeeping batches read their rows so: several processes then purge different
        batches instead of queueing on the same rows. (SQLite omits the locking clause.)
        """
        return True

    def insert_group(self, connection: Connection, group: list[Reservation]) -> None:
        """Insert a decided group's reservations and events and add their seats.

        The caller holds the schedules' row locks and has checked seats and users.
        """
        connection.execute(sql.INSERT_RESERVATION, [sql.reservation_row(r) for r in group])
        connection.execute(sql.APPEND_EVENT, [sql.event_row(r) for r in group])
        connection.execute(*sql.group_seats(group))

    def book_group_and_commit(
        self, connection: Connection, group: list[Reservation]
    ) -> list[bool] | None:
        """Decide, book and commit a group in one atomic statement, outside any transaction.

        ``None`` where the database cannot: the caller books the group in a transaction.
        """
        return None

    def book_and_commit(self, connection: Connection, reservation: Reservation) -> bool | None:
        """Book and commit in one atomic statement, outside any transaction.

        ``None`` where the database cannot: the caller books in a transaction instead.
        """
        return None

    def error_code(self, error: BaseException | None) -> object | None:
        """The server's error code in a driver exception, as this driver reports it."""
        return None

    def classify(self, error: BaseException | None) -> Trouble | None:
        """What a driver exception means, or ``None`` if its code is not known here."""
        code = self.error_code(error)
        return None if code is None else self.troubles.get(code)

    def describe(self) -> dict[str, Any]:
        """The dialect and driver, for messages."""
        return {"dialect": self.dialect, "driver": self.driver}


@contextlib.contextmanager
def driver_cursor(connection: Connection, statement: str) -> Iterator[Any]:
    """A driver cursor on ``connection``; its errors come out as SQLAlchemy's would.

    For a booking run on the driver itself, in the driver's own transaction (SQLAlchemy's
    ``Connection`` knows nothing of it): on an error the transaction is rolled back, so
    nothing half done stays open on the connection, or the connection is invalidated if
    it was lost. The error is wrapped in SQLAlchemy's ``DBAPIError`` for ``statement``,
    as ``Connection.execute`` would, so the usual translation applies.
    """
    pooled = connection.connection
    dialect = connection.dialect
    driver_error: type[BaseException] = dialect.loaded_dbapi.Error
    cursor = pooled.cursor()
    try:
        yield cursor
    except driver_error as error:
        lost = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)  # type: ignore[arg-type]
        if lost:
            connection.invalidate()
        else:
            try:
                pooled.dbapi_connection.rollback()  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - lost now: never pool it again
                lost = True
                connection.invalidate()
        raise sa_exc.DBAPIError.instance(
            statement,
            None,
            error,
            driver_error,  # type: ignore[arg-type]
            connection_invalidated=lost,
            dialect=dialect,
        ) from error
    except BaseException:
        # Interrupted mid-booking (a cancelled task, KeyboardInterrupt): the driver's own
        # transaction may be half done, and SQLAlchemy's Connection knows nothing of it,
        # so its rollback would not undo it. Never use the connection again: closing it
        # rolls the transaction back in the server.
        connection.invalidate()
        raise
    finally:
        with contextlib.suppress(Exception):
            cursor.close()


_TAKE_SEATS = DriverSQL(sql.TAKE_SEATS)
_INSERT_RESERVATION = DriverSQL(sql.INSERT_RESERVATION, column_keys=sql.RESERVATION_KEYS)
_APPEND_EVENT = DriverSQL(sql.APPEND_EVENT, column_keys=sql.EVENT_KEYS)
_INSTANT = UtcDateTime()
_INSTANT_BINDS: dict[type[Dialect], Any] = {}


def driver_instant(dialect: Dialect) -> Any:
    """A function turning an aware ``datetime`` into what ``dialect``'s driver stores."""
    found = _INSTANT_BINDS.get(type(dialect))
    if found is None:
        # The dialect's own type (SQLite's stores a fixed-width string), as Core binds it.
        processor = _INSTANT.dialect_impl(dialect).bind_processor(dialect)
        found = _INSTANT_BINDS[type(dialect)] = processor or (lambda value: value)
    return found


def driver_booking(dialect: Dialect, reservation: Reservation) -> list[tuple[str, Any]]:
    """The booking's three statements as driver SQL and driver-ready parameters.

    Taking the seats first: the remaining two run only if it matched a row.
    """
    take, take_params = _TAKE_SEATS.for_dialect(dialect)
    insert, insert_params = _INSERT_RESERVATION.for_dialect(dialect)
    append, append_params = _APPEND_EVENT.for_dialect(dialect)
    instant = driver_instant(dialect)
    row = sql.reservation_row(reservation)
    row["created_at"] = instant(reservation.created_at)
    row["updated_at"] = instant(reservation.updated_at)
    row["expires_at"] = instant(reservation.expires_at)
    event = sql.event_row(reservation)
    event["occurred_at"] = row["updated_at"]
    return [
        (take, take_params(sql.seats_of(reservation))),
        (insert, insert_params(row)),
        (append, append_params(event)),
    ]


@contextlib.contextmanager
def discarded_on_error(connection: Connection) -> Iterator[None]:
    """If the block fails, discard the connection (never pooled again), then re-raise."""
    try:
        yield
    except BaseException:
        connection.invalidate()
        connection.close()
        raise
