"""The ``pgbench`` contender of ``hot_schedule.py``: the physical limit of the hot row.

pgbench runs the library's own single-statement booking on PostgreSQL
(``BOOK_IN_ONE_STATEMENT``, compiled by SQLAlchemy's PostgreSQL dialect) as a custom
script, each transaction the statement alone in autocommit, as the library sends it,
prepared once per connection (``-M prepared``; psycopg prepares it after 5 uses). It is
a C client with no Python at all: what one hot row takes at a given concurrency on this
server with its durability settings. Each transaction books for a fresh user (a
server-made UUID, as the library's client-made ones), with ``now()`` as the instant.
"""

from __future__ import annotations

import dataclasses
import os
import re
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL

from reservation_core.domain import ReservationStatus, event_type

#: Where Debian's postgresql-client puts it when it is not on PATH.
_FALLBACKS = ("/usr/lib/postgresql/15/bin/pgbench", "/usr/lib/postgresql/16/bin/pgbench")

# What the library passes as parameters, as pgbench script text: constants become pgbench
# variables (-D, sent as parameters of the prepared statement), the per-booking values
# expressions the server evaluates.
_PER_BOOKING = {
    "p_id": "gen_random_uuid()::text",
    "p_user_id": "gen_random_uuid()::text",
    "p_created_at": "now()",
    "p_expires_at": "NULL",
}


@dataclasses.dataclass
class PgbenchRun:
    """What one pgbench run measured."""

    clients: int
    transactions: int
    failures: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]  # seconds, one per transaction


def pgbench_path() -> str:
    """The pgbench executable; ``RuntimeError`` if there is none."""
    found = shutil.which("pgbench") or next((p for p in _FALLBACKS if os.access(p, os.X_OK)), None)
    if found is None:
        raise RuntimeError("pgbench not found: install postgresql-client (Debian)")
    return found


def booking_script() -> str:
    """The booking statement as a pgbench script (one line, ``:name`` variables)."""
    # Imported here: a --baseline run imports this module beside an older library, which
    # kept the statement elsewhere (and never runs pgbench).
    from reservation_core.adapters.sqlalchemy._dialects.postgresql._statements import (  # noqa: PLC0415
        BOOK_IN_ONE_STATEMENT,
    )

    sql = str(BOOK_IN_ONE_STATEMENT.compile(dialect=postgresql.dialect()))

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return _PER_BOOKING.get(name, f":{name}")

    return re.sub(r"%\((\w+)\)s", substitute, " ".join(sql.split())) + ";\n"


def run_pgbench(url: URL, schedule_id: str, clients: int, seconds: float) -> PgbenchRun:
    """Book on ``schedule_id`` from ``clients`` pgbench connections for ``seconds``."""
    variables = {
        "p_schedule_id": schedule_id,
        "p_quantity": "1",
        "p_status": str(ReservationStatus.CONFIRMED),
        "p_type": event_type(ReservationStatus.CONFIRMED),
    }
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    with tempfile.TemporaryDirectory(prefix="rc-pgbench-") as scratch:
        script = Path(scratch, "book.sql")
        script.write_text(booking_script())
        command = [
            pgbench_path(),
            "-n",  # no vacuum of pgbench's own tables: there are none
            "-M",
            "prepared",
            "-f",
            str(script),
            "-c",
            str(clients),
            "-j",
            str(min(clients, os.cpu_count() or 1)),
            "-T",
            str(max(1, round(seconds))),
            "--log",
            "--log-prefix",
            str(Path(scratch, "tx")),
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
        ]
        for name, value in variables.items():
            command += ["-D", f"{name}={value}"]
        command.append(url.database or "postgres")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr.strip()}")
        latencies = _latencies(Path(scratch))
    out = done.stdout
    transactions = int(_field(out, r"number of transactions actually processed: (\d+)"))
    failed = _field(out, r"number of failed transactions: (\d+)", "0")
    tps = float(_field(out, r"tps = ([\d.]+)"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return PgbenchRun(
        clients, transactions, int(failed), transactions / tps if tps else seconds, cpu, latencies
    )


def _field(text: str, pattern: str, default: str | None = None) -> str:
    match = re.search(pattern, text)
    if match is None:
        if default is None:
            raise RuntimeError(f"pgbench output without {pattern!r}:\n{text}")
        return default
    return match.group(1)


def _latencies(scratch: Path) -> list[float]:
    """Per-transaction latencies from pgbench's logs (field 3: microseconds)."""
    found: list[float] = []
    for log in scratch.glob("tx.*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                found.append(int(fields[2]) / 1e6)
    return found
