"""A group decided, booked and committed in one script on MariaDB (private).

For a PyMySQL connection that takes scripts (``MySQLRules.multi_statements``) to a
MariaDB server with ``JSON_TABLE`` (10.6 and later). The group travels as one JSON
parameter; the script locks the group's schedules' rows in the order of their ids, inserts
each user's first request on a schedule, unless the user is active there, while the
schedule's running total of seats fits (arrival order), then the events of the rows it
inserted, adds their seats, returns their ids and commits: one round trip, with the rows
locked only while the server runs it. The decision is PostgreSQL's group statement's
(``_statements.BOOK_GROUP_IN_ONE_STATEMENT``): a member it does not book is booked alone.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

from sqlalchemy import Connection

from reservation_core.adapters.sqlalchemy import _statements as sql
from reservation_core.adapters.sqlalchemy.tables import events, reservations, schedules
from reservation_core.domain import Reservation, event_type

from ._base import driver_cursor, driver_instant

_READ_COMMITTED = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"
#: MariaDB 10.6 brought ``JSON_TABLE``.
SINCE = (10, 6)

_S, _R, _E = schedules.name, reservations.name, events.name
_s, _r = schedules.c, reservations.c
# The ids compare as the tables' columns do: binary, NO PAD (see tables.IdString).
_ID = "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
_MEMBERS = (
    "JSON_TABLE(%(members)s, '$[*]' COLUMNS ("
    f"ord FOR ORDINALITY, id VARCHAR(36) PATH '$[0]', sid {_ID} PATH '$[1]', "
    f"uid {_ID} PATH '$[2]', q INT PATH '$[3]')) m"
)
# LEFT JOIN ... IS NULL: one probe of the unique (schedule_id, active_user_id) index per
# member, whatever the table's statistics say.
_BOOK = f"""
INSERT INTO {_R} ({", ".join(sql.RESERVATION_KEYS)})
SELECT c.id, c.sid, c.uid, c.q, %(status)s, %(at)s, %(at)s, NULL FROM (
    SELECT f.*, SUM(f.q) OVER (PARTITION BY f.sid ORDER BY f.ord) AS upto FROM (
        SELECT m.*, ROW_NUMBER() OVER (PARTITION BY m.sid, m.uid ORDER BY m.ord) AS nth
        FROM {_MEMBERS} LEFT JOIN {_R} a
            ON a.{_r.schedule_id.name} = m.sid AND a.{_r.active_user_id.name} = m.uid
        WHERE a.{_r.id.name} IS NULL
    ) f WHERE f.nth = 1
) c JOIN {_S} s ON s.{_s.id.name} = c.sid
WHERE c.upto <= s.{_s.capacity.name} - s.{_s.reserved.name}
ORDER BY c.ord;
INSERT INTO {_E} ({", ".join(sql.EVENT_KEYS)})
SELECT %(type)s, r.{_r.id.name}, r.{_r.schedule_id.name}, r.{_r.user_id.name},
       r.{_r.quantity.name}, r.{_r.status.name}, r.{_r.created_at.name}
FROM {_MEMBERS} JOIN {_R} r ON r.{_r.id.name} = m.id ORDER BY m.ord;
UPDATE {_S} s JOIN (
    SELECT r.{_r.schedule_id.name} AS sid, SUM(r.{_r.quantity.name}) AS seats
    FROM {_MEMBERS} JOIN {_R} r ON r.{_r.id.name} = m.id GROUP BY r.{_r.schedule_id.name}
) t ON t.sid = s.{_s.id.name}
SET s.{_s.reserved.name} = s.{_s.reserved.name} + t.seats;
SELECT m.id FROM {_MEMBERS} JOIN {_R} r ON r.{_r.id.name} = m.id;
COMMIT"""  # noqa: S608 - only the library's own table and column names are interpolated


#: Result sets before the booked ids' in a script with ``SET TRANSACTION`` first.
_BEFORE_BOOKED = 5


@functools.lru_cache(maxsize=256)
def _script(schedule_count: int, isolated: bool) -> str:
    """The script for a group on ``schedule_count`` schedules."""
    marks = ", ".join(f"%(s{n})s" for n in range(schedule_count))
    lock = (
        f"SELECT {_s.id.name} FROM {_S} WHERE {_s.id.name} IN ({marks}) "  # noqa: S608 - the library's own names
        f"ORDER BY {_s.id.name} FOR UPDATE;"
    )
    return ("" if isolated else f"{_READ_COMMITTED};") + lock + _BOOK


def book_group_in_one_script(
    connection: Connection, group: Sequence[Reservation], isolated: bool
) -> list[bool]:
    """Book ``group`` and commit; which members were booked.

    ``isolated``: the connection's transactions are READ COMMITTED already; otherwise the
    script sets it for its own transaction. On an error the server stops at the failing
    statement, and the transaction is rolled back before the error is raised.
    """
    first = group[0]
    schedule_ids = sorted({r.schedule_id for r in group})
    params: dict[str, object] = {f"s{n}": s for n, s in enumerate(schedule_ids)}
    params["members"] = json.dumps([[r.id, r.schedule_id, r.user_id, r.quantity] for r in group])
    params["status"] = str(first.status)
    params["type"] = event_type(first.status)
    params["at"] = driver_instant(connection.dialect)(first.created_at)
    script = _script(len(schedule_ids), isolated)
    with driver_cursor(connection, script) as cursor:
        cursor.execute(script, params)
        # To the booked ids: past SET TRANSACTION, the lock, two INSERTs and the UPDATE.
        for _ in range(_BEFORE_BOOKED - isolated):
            cursor.nextset()  # raises the error of a later statement, if any
        booked = {row[0] for row in cursor.fetchall()}
        while cursor.nextset():  # COMMIT
            pass
    return [r.id in booked for r in group]
