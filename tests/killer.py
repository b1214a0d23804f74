"""A DBA killing connections every 100 ms: only those to one database, never its own."""

from __future__ import annotations

import threading

from sqlalchemy import URL, create_engine, text
from sqlalchemy.pool import NullPool

#: The connections to kill (PostgreSQL: terminated by the query itself).
_VICTIMS = {
    "postgresql": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = :db AND pid <> pg_backend_pid()",
    "mysql": "SELECT id FROM information_schema.processlist WHERE db = :db "
    "AND id <> CONNECTION_ID()",
}
_VICTIMS["mariadb"] = _VICTIMS["mysql"]


def kill_connections_until(url: URL, stop: threading.Event, killed: list[int]) -> None:
    """Every 100 ms until ``stop``, kill every connection to ``url``'s database but its own.

    Appends what it killed to ``killed``. Other databases on the server (other sessions'
    and suites') are never touched.
    """
    # AUTOCOMMIT: inside a transaction PostgreSQL would show one frozen pg_stat_activity.
    dba = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    postgresql = dba.dialect.name == "postgresql"
    with dba.connect() as connection:
        while not stop.wait(0.1):
            found = connection.execute(text(_VICTIMS[dba.dialect.name]), {"db": url.database})
            victims = list(found.scalars())
            if postgresql:
                killed.extend(1 for terminated in victims if terminated)
                continue
            for victim in victims:
                try:
                    connection.execute(text(f"KILL CONNECTION {int(victim)}"))
                    killed.append(victim)
                except Exception:  # noqa: BLE001, S112 - it ended by itself meanwhile
                    continue
    dba.dispose()
