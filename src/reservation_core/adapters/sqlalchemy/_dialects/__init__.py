"""Every difference between databases and drivers, one module per backend (private).

``postgresql``, ``mysql`` and ``sqlite`` each hold their database's rules and, beside them,
one small class per driver that reads the server's error code from that driver's
exceptions. :func:`rules_for` picks the class for a dialect and driver, and refuses any
other: a database or driver nobody tested never gets a silent generic fallback.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import URL, Dialect
from sqlalchemy.engine import make_url

from reservation_core.adapters.sqlalchemy._errors import UnsupportedDatabaseError

from . import mysql, postgresql, sqlite
from ._base import DialectRules

_RULES: dict[tuple[str, str], DialectRules] = {
    (rules.dialect, rules.driver): rules()
    for rules in (*postgresql.DRIVERS, *mysql.DRIVERS, *sqlite.DRIVERS)
}
# SQLAlchemy names the dialect "mariadb" for mariadb:// URLs: the same rules.
_RULES.update(
    {("mariadb", driver): rules for (name, driver), rules in _RULES.items() if name == "mysql"}
)

#: The supported dialects and their drivers, as SQLAlchemy names them, for messages.
SUPPORTED = "; ".join(
    f"{name} ({', '.join(sorted(driver for dialect, driver in _RULES if dialect == name))})"
    for name in ("postgresql", "mysql", "mariadb", "sqlite")
)


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


def recommended_engine_options(url: str | URL, *, dedicated: bool = False) -> dict[str, Any]:
    """``create_engine`` options that spare each unit of work round trips on ``url``'s database.

    MariaDB/MySQL: ``isolation_level="READ COMMITTED"``; otherwise every unit of work sets
    it for its transaction, a round trip. This changes the isolation of *every*
    transaction on the engine, the host's own included: give reservation_core an engine
    of its own (``dedicated=True``) if the host's code relies on REPEATABLE READ.

    ``dedicated=True``, for an engine that only ``SqlAlchemyUnitOfWork`` uses, adds
    ``pool_reset_on_return=None``: a unit of work always ends its transaction before it
    returns the connection (or discards a connection it cannot roll back), so the pool's
    own ``ROLLBACK`` on return is redundant; on MariaDB/MySQL it is a round trip per unit
    of work. Do not use it for an engine other code shares.

    Examples:
        >>> recommended_engine_options("mysql+pymysql://app@db/app")
        {'isolation_level': 'READ COMMITTED'}
        >>> recommended_engine_options("postgresql+psycopg://app@db/app", dedicated=True)
        {'pool_reset_on_return': None}
    """
    options: dict[str, Any] = {}
    if make_url(url).get_backend_name() in ("mysql", "mariadb"):
        options["isolation_level"] = mysql.MySQLRules.isolation_level
    if dedicated:
        options["pool_reset_on_return"] = None
    return options
