"""``reservation-core maintain``: every periodic job, once or every few seconds.

Runs ``ReservationService.run_housekeeping``: lapsed holds expire and their seats return,
idempotency keys older than ``--idempotency-ttl`` are deleted, and events older than
``--event-retention`` that every consumer has acknowledged are deleted. Each transaction
changes at most ``--batch-size`` rows. Prints one line per run (``--json``: one JSON
object per run). Without ``--every`` it runs once; with ``--every SECONDS`` it runs again
that long after each run began, until SIGTERM or Ctrl-C, which end it after the run in
hand, with status 0. Several processes may run it at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from reservation_core import HousekeepingReport, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork
from reservation_core.cli._common import open_engine, require_schema, stop_on_signal
from reservation_core.cli._options import Commands, add_command, add_url, positive, seconds

SUMMARY = "expire lapsed holds, purge old keys and acknowledged events; --every to repeat"


def add_parser(commands: Commands) -> None:
    """Register ``maintain``."""
    parser = add_command(commands, "maintain", run, summary=SUMMARY, description=__doc__)
    add_url(parser, required=True)
    parser.add_argument(
        "--every",
        type=seconds,
        metavar="SECONDS",
        help="run again this long after each run began, until SIGTERM or Ctrl-C "
        "(default: run once)",
    )
    parser.add_argument(
        "--event-retention",
        type=seconds,
        default=7 * 86400.0,
        metavar="SECONDS",
        help="keep acknowledged events this long (default: 604800, 7 days)",
    )
    parser.add_argument(
        "--idempotency-ttl",
        type=seconds,
        default=86400.0,
        metavar="SECONDS",
        help="delete idempotency keys older than this; use your services' idempotency_ttl "
        "(default: 86400, 24 hours)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive,
        default=100,
        metavar="N",
        help="the most rows one transaction changes, 1..10000 (default: 100)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per run")


def report_line(report: HousekeepingReport, took: float) -> str:
    """One run, for the text output."""
    return (
        f"{datetime.now(UTC).isoformat(timespec='seconds')} "
        f"holds_expired={report.holds_expired} "
        f"idempotency_keys_purged={report.idempotency_keys_purged} "
        f"events_purged={report.events_purged} transactions={report.transactions} "
        f"seconds={took:.3f}"
    )


def run(args: argparse.Namespace) -> int:
    """Run the housekeeping once, or every ``--every`` seconds until stopped; 0 when done."""
    engine = open_engine(args.url, pool_size=1, must_exist=True)
    try:
        require_schema(engine)
        service = ReservationService(
            lambda: SqlAlchemyUnitOfWork(engine),
            idempotency_ttl=timedelta(seconds=args.idempotency_ttl),
        )
        with stop_on_signal() as stop:
            housekeeping_loop(
                service,
                stop,
                every=args.every,
                event_retention=timedelta(seconds=args.event_retention),
                batch_size=args.batch_size,
                as_json=args.json,
                write=_print,
            )
    finally:
        engine.dispose()
    return 0


def _print(line: str) -> None:
    print(line)
    sys.stdout.flush()  # a pipe or a log collector sees each run as it ends


def housekeeping_loop(
    service: ReservationService,
    stop: threading.Event,
    *,
    every: float | None,
    event_retention: timedelta,
    batch_size: int,
    as_json: bool,
    write: Callable[[str], None],
) -> None:
    """Run the housekeeping, ``write`` a line per run; again ``every`` seconds until ``stop``.

    Shared by this command and Django's ``reservation_core_maintain``.
    """
    while not stop.is_set():
        began = time.monotonic()
        report = service.run_housekeeping(event_retention=event_retention, batch_size=batch_size)
        took = time.monotonic() - began
        if as_json:
            write(json.dumps({**dataclasses.asdict(report), "seconds": round(took, 3)}))
        else:
            write(report_line(report, took))
        if every is None:
            return
        stop.wait(max(0.0, every - took))
