"""PostgreSQL behind a transaction-pooling proxy, and autocommit switching (private).

**A transaction-pooling proxy** (PgBouncer ``pool_mode = transaction``, and the like) in
front of PostgreSQL hands each transaction whichever server connection is free. psycopg
prepares a statement on the server once it has run five times and from then on runs it by
name; on another server connection that name is unknown, or names another client's
statement, which then runs with these parameters. The proxy shows itself by the process
id: the one the connection reported at startup is the proxy's, not the backend's that
answers ``pg_backend_pid()``. Then automatic preparation is switched off for that
connection. The check runs once per DBAPI connection (remembered in its ``info``, which
lives as long as the connection) and leaves the setting on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from .._base import discarded_on_error

_POOLER_CHECKED = "reservation_core.pooler_checked"


def no_prepared_statements_behind_a_pooler(connection: Connection) -> Connection:
    """Switch psycopg's automatic prepared statements off when a pooler sits in between."""
    info = connection.info
    if _POOLER_CHECKED in info:
        return connection
    driver: Any = connection.connection.driver_connection
    if getattr(driver, "prepare_threshold", None) is None:  # not psycopg, or already off
        info[_POOLER_CHECKED] = True
        return connection
    if driver.info.transaction_status.name != "IDLE":  # pragma: no cover - a host's leftover
        return connection  # autocommit cannot be switched now: check at the next checkout
    with discarded_on_error(connection):
        answering = _backend_pid(connection)
    if answering != driver.info.backend_pid:
        driver.prepare_threshold = None
    info[_POOLER_CHECKED] = True
    return connection


def _backend_pid(connection: Connection) -> object:
    """``pg_backend_pid()`` in autocommit: one round trip, no BEGIN and no ROLLBACK sent."""
    with autocommit(connection):
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        connection.rollback()  # SQLAlchemy's own bookkeeping; psycopg has nothing to send
    return pid


@contextmanager
def autocommit(connection: Connection) -> Iterator[None]:
    """The driver in autocommit mode for the block, then as it was (or the connection discarded).

    The DB-API connection: for an asyncio driver, SQLAlchemy's adapter, which switches
    autocommit where the driver's own async connection needs an await. The drivers switch
    it without a round trip.
    """
    driver: Any = connection.connection.dbapi_connection
    before = driver.autocommit
    driver.autocommit = True
    try:
        yield
    finally:
        try:
            driver.autocommit = before
        except Exception:  # noqa: BLE001 - a broken connection: never pool it again
            connection.invalidate()
