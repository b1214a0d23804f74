"""MariaDB Galera: reads that wait for the other nodes' commits (private).

**A Galera node** (MariaDB multi-primary) applies the other nodes' commits a moment after
they return: a plain read there can miss a reservation just made elsewhere. The session's
``wsrep_sync_wait`` makes reads, updates and deletes first wait until the node has applied
everything the cluster committed before them. The check runs once per DBAPI connection
(remembered in its ``info``) and leaves the setting on it: later checkouts cost nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection

from .._base import discarded_on_error

_GALERA_CHECKED = "reservation_core.galera_checked"
#: In a connection's ``info``, once checked: whether the server is a Galera node.
GALERA = "reservation_core.galera"

#: READ (1) + UPDATE and DELETE (2): every statement that decides from existing rows sees
#: all earlier commits of the cluster. INSERTs need no wait: a unique key taken on another
#: node fails certification at COMMIT, which the service retries.
GALERA_SYNC_WAIT = 3


def causal_reads_on_galera(connection: Connection) -> Connection:
    """On a Galera node whose session does not wait for causality, make it wait."""
    info = connection.info
    if _GALERA_CHECKED in info:
        return connection
    with discarded_on_error(connection):
        rows = connection.exec_driver_sql(
            "SHOW VARIABLES WHERE Variable_name IN ('wsrep_on', 'wsrep_sync_wait')"
        ).all()
        variables: dict[str, str] = dict(rows)
        info[GALERA] = variables.get("wsrep_on") == "ON"
        # A host's own non-zero choice stands; plain MariaDB and MySQL say OFF or nothing.
        if info[GALERA] and variables.get("wsrep_sync_wait") == "0":
            connection.exec_driver_sql(f"SET SESSION wsrep_sync_wait = {GALERA_SYNC_WAIT}")
        connection.rollback()
    info[_GALERA_CHECKED] = True
    return connection
