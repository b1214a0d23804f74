"""What a MariaDB/MySQL session is set to, and how the library finds out (private)."""

from __future__ import annotations

from sqlalchemy import Connection

#: The binary NO PAD collations that compare ids exactly (no case folding, no trailing-space
#: padding): MariaDB's, and MySQL 8's.
MARIADB_EXACT = "utf8mb4_nopad_bin"
MYSQL_EXACT = "utf8mb4_0900_bin"
#: Every unit of work's isolation where the engine does not already run at it.
READ_COMMITTED = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"
#: ``CLIENT_MULTI_STATEMENTS``: the connection accepts several statements in one query.
MULTI_STATEMENTS = 1 << 16
#: ``CLIENT_FOUND_ROWS``, which SQLAlchemy always asks for: ``rowcount`` counts matched rows.
FOUND_ROWS = 2


def configured_isolation(connection: Connection) -> str | None:
    """The isolation level the connection's transactions get, found without a round trip."""
    engine = connection.engine
    configured = engine.get_execution_options().get("isolation_level")
    configured = configured or getattr(engine.dialect, "isolation_level", None)
    return configured or connection.default_isolation_level
