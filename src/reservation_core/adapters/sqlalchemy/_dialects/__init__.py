"""Every difference between databases and drivers, one folder per backend (private).

``postgresql/``, ``mysql/`` and ``sqlite/`` each hold their database's rules (a
``DialectRules`` subclass: locking, isolation, column types, engine options, asyncio
drivers, the fastest safe booking, what its error codes mean), the SQL and scripts only
that database runs, and, beside them, one small class per driver that reads the server's
error code from that driver's exceptions. Nothing outside a backend's folder names its
database. :func:`rules_for` picks the class for a dialect and driver, and refuses any
other: a database or driver nobody tested never gets a silent generic fallback.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import URL, Dialect
from sqlalchemy.engine import make_url

from reservation_core.adapters.sqlalchemy._errors import UnsupportedDatabaseError

from . import mysql, postgresql, sqlite
from ._base import DialectRules

#: Every supported database: one module (a folder) each, naming its ``DATABASE`` rules
#: and its ``DRIVERS``. A new database is a new folder here and a line in this tuple.
_BACKENDS = (postgresql, mysql, sqlite)
#: The database's own rules (no driver) by each name SQLAlchemy gives it.
_DATABASES: dict[str, type[DialectRules]] = {
    name: backend.DATABASE for backend in _BACKENDS for name in backend.DATABASE.names
}
_RULES: dict[tuple[str, str], DialectRules] = {
    (name, rules.driver): rules()
    for backend in _BACKENDS
    for rules in backend.DRIVERS
    for name in rules.names
}

#: The supported dialects and their drivers, as SQLAlchemy names them, for messages.
SUPPORTED = "; ".join(
    f"{name} ({', '.join(sorted(driver for dialect, driver in _RULES if dialect == name))})"
    for name in _DATABASES
)

#: Each database's asyncio drivers, the default first.
ASYNC_DRIVERS: dict[str, tuple[str, ...]] = {
    name: database.async_drivers for name, database in _DATABASES.items()
}


def database_rules(name: str) -> type[DialectRules]:
    """The rules of the database SQLAlchemy names ``name``; the shared ones if unknown.

    For what depends on the database alone (column types), not on its driver.
    """
    return _DATABASES.get(name, DialectRules)


def rules_for(dialect: Dialect) -> DialectRules:
    """The rules for ``dialect`` and its driver.

    Raises:
        UnsupportedDatabaseError: the dialect or its driver is not one reservation_core
            supports; the message names what is.
    """
    rules = _RULES.get((dialect.name, dialect.driver))
    if rules is None:
        raise UnsupportedDatabaseError(
            "STORAGE_UNAVAILABLE",
            f"reservation_core does not support {dialect.name}+{dialect.driver}; "
            f"supported: {SUPPORTED}",
            details={
                "reason": "unsupported_database",
                "dialect": dialect.name,
                "driver": dialect.driver,
            },
        )
    return rules


def async_url(url: str | URL, *, driver: str | None = None) -> URL:
    """``url``'s database through an asyncio driver, for ``create_async_engine``.

    The host's sync URL, say, made into one for :class:`AsyncSqlAlchemyUnitOfWork`: the
    same database, user, password and query, through ``driver`` or, by default, the
    database's usual asyncio driver: asyncpg for PostgreSQL, aiomysql for MariaDB/MySQL,
    aiosqlite for SQLite. A URL that names one of these already is returned as it is;
    ``driver="psycopg"`` keeps PostgreSQL on psycopg 3, in its asyncio mode.

    Raises:
        ValueError: the database is not one reservation_core supports, or ``driver`` is
            not one of its asyncio drivers that reservation_core supports.

    Examples:
        >>> async_url("postgresql+psycopg://app:secret@db/app").drivername
        'postgresql+asyncpg'
        >>> async_url("postgresql://app@db/app", driver="psycopg").drivername
        'postgresql+psycopg'
        >>> async_url("sqlite:///reservations.db").render_as_string()
        'sqlite+aiosqlite:///reservations.db'
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    drivers = ASYNC_DRIVERS.get(backend)
    if drivers is None:
        raise ValueError(f"reservation_core does not support {backend}; supported: {SUPPORTED}")
    if driver is None:
        driver = parsed.get_driver_name()
        if driver not in drivers or driver == "psycopg":
            driver = drivers[0]
    elif driver not in drivers:
        raise ValueError(
            f"{driver!r} is not an asyncio driver reservation_core supports for {backend}: "
            f"{', '.join(drivers)}"
        )
    return parsed.set(drivername=f"{backend}+{driver}")


def recommended_engine_options(
    url: str | URL, *, dedicated: bool = False, pgbouncer: bool = False, galera: bool = False
) -> dict[str, Any]:
    """``create_engine`` options that spare each unit of work round trips on ``url``'s database.

    MariaDB/MySQL: ``isolation_level="READ COMMITTED"``; otherwise every unit of work sets
    it for its transaction, a round trip. This changes the isolation of *every*
    transaction on the engine, the host's own included: give reservation_core an engine
    of its own (``dedicated=True``) if the host's code relies on REPEATABLE READ.

    ``dedicated=True``, for an engine that only ``SqlAlchemyUnitOfWork`` uses, adds
    ``pool_reset_on_return=None``: a unit of work always ends its transaction before it
    returns the connection (or discards a connection it cannot roll back), so the pool's
    own ``ROLLBACK`` on return is redundant; on MariaDB/MySQL it is a round trip per unit
    of work. Do not use it for an engine other code shares. On MariaDB/MySQL through
    PyMySQL it also lets the engine's connections take several statements in one query
    (``client_flag`` with ``CLIENT_MULTI_STATEMENTS``): a booking and its ``COMMIT`` are
    then one round trip, and the schedule row is locked only while the server runs them.
    The library sends only its own prebuilt statements, values always passed as
    parameters; code that builds SQL from strings should not share such an engine.

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

    Examples:
        >>> recommended_engine_options("mysql+pymysql://app@db/app")
        {'isolation_level': 'READ COMMITTED'}
        >>> recommended_engine_options("postgresql+psycopg://app@db/app", dedicated=True)
        {'pool_reset_on_return': None}
        >>> recommended_engine_options("postgresql+psycopg://app@pgbouncer/app", pgbouncer=True)
        {'connect_args': {'prepare_threshold': None}}
    """
    parsed = make_url(url)
    database = database_rules(parsed.get_backend_name())
    options, connect_args = database.engine_options(
        parsed.get_driver_name(), dedicated=dedicated, pgbouncer=pgbouncer, galera=galera
    )
    if dedicated:
        options["pool_reset_on_return"] = None
    if connect_args:
        options["connect_args"] = connect_args
    return options
