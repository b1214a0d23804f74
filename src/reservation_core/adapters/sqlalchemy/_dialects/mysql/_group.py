"""A group booked and committed in one script on MariaDB (private).

For a PyMySQL connection that takes scripts (``MySQLRules.multi_statements``) to a
MariaDB server with ``JSON_TABLE`` (10.6 and later). The group travels as one JSON
parameter, in one round trip, the rows locked only while the server runs the script:

- first the script for a group that fits whole, as nearly every group does: the seats
  taken (the rows locked in the order of their ids), then the rows inserted straight
  from the JSON, then ``COMMIT``;
- if a constraint refuses it (a schedule short of seats, a missing one, a user already
  active), it is rolled back and the deciding script runs: it locks the schedules' rows
  in the order of their ids, inserts each user's first request on a schedule, unless the
  user is active there, while the schedule's running total of seats fits (arrival
  order), then the events of the rows it inserted, adds their seats, returns their ids
  and commits. Its decision is PostgreSQL's group statement's
  (``postgresql._statements.BOOK_GROUP_IN_ONE_STATEMENT``): a member it does not book is booked
  alone.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc

from reservation_core.adapters.sqlalchemy import _statements as sql
from reservation_core.adapters.sqlalchemy._errors import Trouble
from reservation_core.adapters.sqlalchemy.tables import events, reservations, schedules
from reservation_core.domain import Reservation, event_type

from .._base import DialectRules, driver_cursor, driver_instant
from ._session import MARIADB_EXACT, READ_COMMITTED

#: MariaDB 10.6 brought ``JSON_TABLE``.
SINCE = (10, 6)

_S, _R, _E = schedules.name, reservations.name, events.name
_s, _r = schedules.c, reservations.c
# The ids compare as the tables' columns do: binary, NO PAD (see tables.IdString).
_ID = f"VARCHAR(64) CHARACTER SET utf8mb4 COLLATE {MARIADB_EXACT}"
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
WHERE c.upto <= s.{_s.capacity.name} - s.{_s.reserved.name} AND s.{_s.pool_count.name} = 0
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


# The group when every member fits, as it nearly always does: the seats taken first (the
# rows locked in the order of their ids, and the CHECK reserved <= capacity refusing a
# schedule short of seats), then the rows inserted straight from the JSON. A schedule
# short of seats, a missing one (the foreign key) or a user already active (the unique
# index) fails the script, which is rolled back; the deciding script then books the group.
_ALL_FIT = f"""
INSERT INTO {_R} ({", ".join(sql.RESERVATION_KEYS)})
SELECT m.id, m.sid, m.uid, m.q, %(status)s, %(at)s, %(at)s, NULL FROM {_MEMBERS} ORDER BY m.ord;
INSERT INTO {_E} ({", ".join(sql.EVENT_KEYS)})
SELECT %(type)s, m.id, m.sid, m.uid, m.q, %(status)s, %(at)s FROM {_MEMBERS} ORDER BY m.ord;
COMMIT"""  # noqa: S608 - only the library's own table and column names are interpolated

#: Result sets before the booked ids' in the deciding script with ``SET TRANSACTION``.
_BEFORE_BOOKED = 5


def _in(count: int) -> str:
    return ", ".join(f"%(s{n})s" for n in range(count))


@functools.lru_cache(maxsize=256)
def _deciding_script(schedule_count: int, isolated: bool) -> str:
    """The script deciding a group on ``schedule_count`` schedules."""
    lock = (
        f"SELECT {_s.id.name} FROM {_S} WHERE {_s.id.name} IN ({_in(schedule_count)}) "  # noqa: S608 - the library's own names
        f"AND {_s.pool_count.name} = 0 ORDER BY {_s.id.name} FOR UPDATE;"
    )
    return ("" if isolated else f"{READ_COMMITTED};") + lock + _BOOK


@functools.lru_cache(maxsize=256)
def _all_fit_script(schedule_count: int, isolated: bool) -> str:
    """The script booking a group on ``schedule_count`` schedules if all of it fits."""
    cases = " ".join(f"WHEN %(s{n})s THEN %(q{n})s" for n in range(schedule_count))
    # A schedule with pools is set to -1 seats reserved: its CHECK refuses the script, as
    # a schedule short of seats does, and the deciding script leaves its members out.
    seats = (
        f"UPDATE {_S} SET {_s.reserved.name} = CASE WHEN {_s.pool_count.name} = 0 "  # noqa: S608 - the library's own names
        f"THEN {_s.reserved.name} + CASE {_s.id.name} {cases} END ELSE -1 END "
        f"WHERE {_s.id.name} IN ({_in(schedule_count)});"
    )
    return ("" if isolated else f"{READ_COMMITTED};") + seats + _ALL_FIT


def book_group_in_one_script(
    rules: DialectRules, connection: Connection, group: Sequence[Reservation], isolated: bool
) -> list[bool]:
    """Book ``group`` and commit; which members were booked.

    ``isolated``: the connection's transactions are READ COMMITTED already; otherwise the
    script sets it for its own transaction. On an error the server stops at the failing
    statement, and the transaction is rolled back before the error is raised.
    """
    first = group[0]
    params = sql.seat_params(group)
    schedule_count = len(params) // 2
    params["members"] = json.dumps([[r.id, r.schedule_id, r.user_id, r.quantity] for r in group])
    params["status"] = str(first.status)
    params["type"] = event_type(first.status)
    params["at"] = driver_instant(connection.dialect)(first.created_at)
    script = _all_fit_script(schedule_count, isolated)
    try:
        with driver_cursor(connection, script) as cursor:
            cursor.execute(script, params)
            while cursor.nextset():  # raises the error of a later statement, if any
                pass
    except sa_exc.DBAPIError as error:
        if error.connection_invalidated or not _refused(rules, error):
            raise
    else:
        return [True] * len(group)
    script = _deciding_script(schedule_count, isolated)
    with driver_cursor(connection, script) as cursor:
        cursor.execute(script, params)
        # To the booked ids: past SET TRANSACTION, the lock, two INSERTs and the UPDATE.
        for _ in range(_BEFORE_BOOKED - isolated):
            cursor.nextset()  # raises the error of a later statement, if any
        booked = {row[0] for row in cursor.fetchall()}
        while cursor.nextset():  # COMMIT
            pass
    return [r.id in booked for r in group]


def _refused(rules: DialectRules, error: sa_exc.DBAPIError) -> bool:
    """Whether a constraint refused the all-fit script: some member does not fit."""
    trouble = rules.classify(error.orig)
    return trouble in (Trouble.DUPLICATE, Trouble.INTEGRITY) or (
        trouble is None and isinstance(error, sa_exc.IntegrityError)
    )
