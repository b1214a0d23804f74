"""The schema: SQLAlchemy Core tables, every name prefixed ``rc_``.

Create it with ``metadata.create_all(engine)`` or the shipped Alembic branch
``reservation_core``; both give the same schema (a test diffs them on every backend).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from reservation_core.domain import ReservationStatus
from reservation_core.domain._waitlist import WaitlistStatus

if TYPE_CHECKING:
    from ._dialects._base import DialectRules

__all__ = [
    "event_consumers",
    "event_deliveries",
    "events",
    "idempotency_keys",
    "metadata",
    "reservations",
    "schedule_pools",
    "schedules",
    "waitlist_entries",
]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=_NAMING)
"""The tables of reservation_core; pass to ``create_all`` or to Alembic's ``target_metadata``."""

_MYSQL_TABLE: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
}


@functools.cache
def _database(name: str) -> type[DialectRules]:
    """The rules of the database SQLAlchemy names ``name``: its column types live there."""
    from ._dialects import database_rules  # noqa: PLC0415 - the dialects import these tables

    return database_rules(name)


class IdString(TypeDecorator[str]):
    """An identifier of up to 64 characters, compared exactly.

    Some databases' default collations fold case and ignore trailing spaces, so ``"a"``,
    ``"A"`` and ``"a "`` would be one key there; each database's rules give the column a
    type that keeps them three (``DialectRules.id_type``).
    """

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return _database(dialect.name).id_type(dialect)


class UtcDateTime(TypeDecorator[datetime]):
    """A UTC instant with microseconds; aware ``datetime`` in, aware UTC ``datetime`` out.

    Where the database's column keeps no time zone (``DialectRules.stores_time_zones``),
    the value is stored as naive UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return _database(dialect.name).instant_type(dialect)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value if _database(dialect.name).stores_time_zones else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _quoted(statuses: Iterable[ReservationStatus | WaitlistStatus]) -> str:
    return ", ".join(f"'{status}'" for status in statuses)


#: The generated ``active_user_id``: the user id while the reservation holds seats.
_HOLDING = _quoted(status for status in ReservationStatus if status.holds_seats)
ACTIVE_USER_ID = f"CASE WHEN status IN ({_HOLDING}) THEN user_id END"
#: The statuses a reservation row may have.
STATUS_CHECK = f"status IN ({_quoted(ReservationStatus)})"

schedules = Table(
    "rc_schedules",
    metadata,
    Column("id", IdString(), primary_key=True),
    Column("capacity", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, server_default="0"),
    # How many pools the schedule counts against (rc_schedule_pools): the fast booking
    # paths take seats only where it is 0, and leave the others to the path that locks
    # the schedule and its pools together.
    Column("pool_count", SmallInteger, nullable=False, server_default="0"),
    # The entries on its waiting list (WAITING or OFFERED): a release of seats where it is
    # 0 (nearly always) is one statement; elsewhere the seats are offered to the list.
    Column("waitlisted", Integer, nullable=False, server_default="0"),
    CheckConstraint("capacity >= 0", name="capacity"),
    CheckConstraint("reserved >= 0 AND reserved <= capacity", name="reserved"),
    **_MYSQL_TABLE,
)
"""``rc_schedules``: one row per schedule, ``id``, ``capacity`` and ``reserved`` seats,
and how many pools it counts against."""

schedule_pools = Table(
    "rc_schedule_pools",
    metadata,
    Column("schedule_id", IdString(), ForeignKey(schedules.c.id), primary_key=True),
    Column("pool_id", IdString(), ForeignKey(schedules.c.id), primary_key=True),
    # The audit's question: which schedules count against a pool.
    Index(None, "pool_id"),
    **_MYSQL_TABLE,
)
"""``rc_schedule_pools``: the pools (schedules) each schedule's seats also count against."""

reservations = Table(
    "rc_reservations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("schedule_id", IdString(), ForeignKey(schedules.c.id), nullable=False),
    Column("user_id", IdString(), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # A hold's deadline; NULL for a reservation that was never a hold.
    Column("expires_at", UtcDateTime(), nullable=True),
    # An order's id and the line's place in it; NULL for a reservation booked alone.
    Column("order_id", String(36), nullable=True),
    Column("order_line", SmallInteger, nullable=True),
    # The duplicate guard: the user id while the reservation is active (HELD or
    # CONFIRMED), else NULL; unique per schedule below. A generated column works the same
    # on all three databases (MariaDB has no partial indexes), so there is one rule, not
    # one per dialect.
    Column(
        "active_user_id",
        IdString(),
        Computed(ACTIVE_USER_ID, persisted=True),
    ),
    CheckConstraint("quantity >= 1", name="quantity"),
    CheckConstraint(STATUS_CHECK, name="status"),
    Index(None, "schedule_id", "status"),
    Index("uq_rc_reservations_active_user", "schedule_id", "active_user_id", unique=True),
    # Keyset pages of a schedule's or a user's reservations, in (created_at, id) order.
    Index(None, "schedule_id", "created_at", "id"),
    Index(None, "user_id", "created_at", "id"),
    # The sweeper's search for lapsed holds (covering: it reads only schedule_id).
    Index(None, "status", "expires_at", "schedule_id"),
    # An order's lines. Partial where the database has partial indexes: the reservations
    # booked alone (nearly all) add nothing to it.
    Index(
        None,
        "order_id",
        postgresql_where=text("order_id IS NOT NULL"),
        sqlite_where=text("order_id IS NOT NULL"),
    ),
    **_MYSQL_TABLE,
)
"""``rc_reservations``: one row per reservation; a unique index allows one active
(``HELD`` or ``CONFIRMED``) reservation per user and schedule."""

idempotency_keys = Table(
    "rc_idempotency_keys",
    metadata,
    Column("user_id", IdString(), primary_key=True),
    Column("key", IdString(), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    # No foreign key: the key row is written before its reservation, in the same
    # transaction, so that a concurrent request with the same key waits on the key
    # without holding the schedule's row lock (MySQL cannot defer a foreign key).
    Column("reservation_id", String(36), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "created_at"),
    **_MYSQL_TABLE,
)
"""``rc_idempotency_keys``: each user's idempotency keys and the reservation each made."""

#: 64 bits; on SQLite an INTEGER, the only type an auto-incremented rowid key takes.
_EVENT_ID = BigInteger().with_variant(Integer, "sqlite")

events = Table(
    "rc_events",
    metadata,
    # An increasing id: a sequence (PostgreSQL), AUTO_INCREMENT (MariaDB), SQLite's rowid.
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("type", String(32), nullable=False),
    Column("reservation_id", String(36), nullable=False),
    Column("schedule_id", IdString(), nullable=False),
    Column("user_id", IdString(), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Index(None, "occurred_at"),
    Index(None, "reservation_id"),
    **_MYSQL_TABLE,
)
"""``rc_events``: every reservation change, written in the transaction that made it."""

event_consumers = Table(
    "rc_event_consumers",
    metadata,
    Column("consumer", IdString(), primary_key=True),
    # Touched by every claim: its row lock serializes one consumer's claims.
    Column("claimed_at", UtcDateTime(), nullable=False),
    **_MYSQL_TABLE,
)
"""``rc_event_consumers``: one row per consumer name, locked while it claims events."""

event_deliveries = Table(
    "rc_event_deliveries",
    metadata,
    Column("consumer", IdString(), primary_key=True),
    Column("event_id", _EVENT_ID, primary_key=True),
    Column("claimed_at", UtcDateTime(), nullable=False),
    Column("acked_at", UtcDateTime(), nullable=True),
    Index(None, "event_id"),
    **_MYSQL_TABLE,
)
"""``rc_event_deliveries``: which consumer claimed, and acknowledged, which event."""

#: The generated ``active_user_id`` of an entry: the user id while it is on the list.
_ON_THE_LIST = ", ".join(f"'{status}'" for status in WaitlistStatus if status.on_the_list)
ENTRY_ACTIVE_USER_ID = f"CASE WHEN status IN ({_ON_THE_LIST}) THEN user_id END"

waitlist_entries = Table(
    "rc_waitlist_entries",
    metadata,
    # Join order: an increasing number (a sequence, AUTO_INCREMENT, SQLite's rowid).
    Column("seq", _EVENT_ID, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False),
    Column("schedule_id", IdString(), ForeignKey(schedules.c.id), nullable=False),
    Column("user_id", IdString(), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    # How long an offer to this entry stays open, in microseconds.
    Column("offer_for_us", BigInteger, nullable=False),
    # The HELD reservation of the entry's offer, once made.
    Column("reservation_id", String(36), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("active_user_id", IdString(), Computed(ENTRY_ACTIVE_USER_ID, persisted=True)),
    CheckConstraint("quantity >= 1", name="quantity"),
    CheckConstraint(f"status IN ({_quoted(WaitlistStatus)})", name="status"),
    Index("uq_rc_waitlist_entries_id", "id", unique=True),
    # One entry on the list per user and schedule.
    Index("uq_rc_waitlist_entries_active_user", "schedule_id", "active_user_id", unique=True),
    # The offers' walk through a schedule's WAITING entries in join order, and positions.
    Index(None, "schedule_id", "status", "seq"),
    Index(None, "reservation_id"),
    **_MYSQL_TABLE,
)
"""``rc_waitlist_entries``: each schedule's waiting list, in join order."""
