"""``reservation-core stress``: a mixed booking load on a few hot schedules, then an audit.

Threads create, cancel and refund reservations as fast as they can on new schedules of
their own (nothing else in the database is touched; the schedules are deleted afterwards
unless ``--keep``). The run fails (exit 1) on any violation: a seat count that drifts, an
overbooked schedule, an error the library should never give (anything but the expected
refusals and ``CONCURRENCY_CONFLICT``). Operators run it to check a database setup
before going live.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import Engine

from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, audit
from reservation_core.cli._common import (
    counted,
    database,
    emit,
    released_together,
    remove_schedules,
    timing,
)
from reservation_core.cli._options import (
    Commands,
    add_command,
    add_json,
    add_url,
    count,
    positive,
    seconds,
)
from reservation_core.cli._urls import shown
from reservation_core.cli.audit import drift_dict, drift_line

_OPERATIONS = ("create", "cancel", "refund")
_WEIGHTS = (2, 1, 1)
_REFUSALS = {
    "create": {ErrorCode.CAPACITY_EXCEEDED, ErrorCode.DUPLICATE_RESERVATION},
    "cancel": {ErrorCode.RESERVATION_ALREADY_CANCELLED, ErrorCode.INVALID_STATE_TRANSITION},
    "refund": {ErrorCode.ALREADY_REFUNDED, ErrorCode.INVALID_STATE_TRANSITION},
}
_RECENT = 200  # cancels and refunds pick among the newest bookings: contended rows

SUMMARY = "mixed create/cancel/refund load on hot schedules, then an audit"


#: Tries to create each schedule of the run when connections die under it.
_SETUP_ATTEMPTS = 5


def add_parser(commands: Commands) -> None:
    """Register ``stress``."""
    parser = add_command(commands, "stress", run, summary=SUMMARY, description=__doc__)
    add_url(parser, required=False)
    parser.add_argument("--schedules", type=positive, default=4, help="hot schedules (default: 4)")
    parser.add_argument("--threads", type=positive, default=8, help="threads (default: 8)")
    parser.add_argument("--seconds", type=seconds, default=10.0, help="duration (default: 10)")
    parser.add_argument(
        "--capacity", type=count, default=20, help="seats per schedule (default: 20)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the schedules afterwards")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Run the load and the audit; 0 without violations, else 1."""
    run_id = uuid.uuid4().hex[:12]
    ids = [f"stress-{run_id}-{number}" for number in range(args.schedules)]
    with database(args.url, pool_size=args.threads) as engine:
        service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
        for schedule_id in ids:
            _create_schedule(service, schedule_id, args.capacity)
        try:
            load = _Load(service, ids, args.capacity)
            load.run(args.threads, args.seconds)
            report = _report(engine, load, args)
        finally:
            if args.url is not None and not args.keep:
                remove_schedules(engine, ids)
    emit(report, args.json, _text)
    return 0 if report["consistent"] else 1


def _create_schedule(service: ReservationService, schedule_id: str, capacity: int) -> None:
    """Create a schedule of the run, also when the connection dies as it commits.

    A stress run may meet the very faults it is meant to survive (a DBA killing its
    connections) while it sets up. A lost commit has an unknown outcome: resolved by
    reading, as the library's callers are told to, then tried again if it did not happen.
    """
    for _ in range(_SETUP_ATTEMPTS - 1):
        try:
            service.create_schedule(schedule_id, capacity)
        except BusinessException as error:
            if error.code is not ErrorCode.STORAGE_UNAVAILABLE:
                raise
            with contextlib.suppress(BusinessException):
                service.get_schedule(schedule_id)
                return  # it was committed
        else:
            return
    service.create_schedule(schedule_id, capacity)


class _Load:
    """The shared state of the worker threads."""

    def __init__(self, service: ReservationService, ids: list[str], capacity: int) -> None:
        self.service = service
        self.ids = ids
        self.users = max(2, capacity * 2)  # fewer users than attempts: duplicates happen
        self.booked: list[str] = []
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.latencies: list[float] = []
        self.problems: list[str] = []
        self.done: list[int] = []
        self.elapsed = 0.0
        self._lock = threading.Lock()

    def run(self, threads: int, duration: float) -> None:
        self.done = [0] * threads
        stop = threading.Event()
        progress = threading.Thread(target=self._progress, args=(stop, duration), daemon=True)
        if sys.stderr.isatty():
            progress.start()
        deadline = time.perf_counter() + duration
        self.elapsed = released_together(threads, lambda index: self._work(index, deadline))
        stop.set()
        if progress.is_alive():
            progress.join()
            print(file=sys.stderr)

    def _work(self, index: int, deadline: float) -> None:
        rng = random.Random()
        outcomes: Counter[tuple[str, str]] = Counter()
        latencies: list[float] = []
        while time.perf_counter() < deadline:
            operation = rng.choices(_OPERATIONS, _WEIGHTS)[0]
            started = time.perf_counter()
            outcome = self._attempt(operation, rng)
            latencies.append(time.perf_counter() - started)
            outcomes[operation, outcome] += 1
            self.done[index] += 1
        with self._lock:
            self.outcomes.update(outcomes)
            self.latencies.extend(latencies)

    def _attempt(self, operation: str, rng: random.Random) -> str:
        service = self.service
        try:
            if operation == "create":
                schedule_id = rng.choice(self.ids)
                user_id = f"user-{rng.randrange(self.users)}"
                booking = service.create_reservation(
                    schedule_id, user_id, quantity=rng.randint(1, 3)
                )
                self.booked.append(booking.id)
                return str(booking.status)
            recent = self.booked[-_RECENT:]
            if not recent:
                return "NOTHING_BOOKED_YET"
            move = (
                service.cancel_reservation if operation == "cancel" else service.refund_reservation
            )
            return str(move(rng.choice(recent)).status)
        except BusinessException as error:
            if error.code not in _REFUSALS[operation] | {ErrorCode.CONCURRENCY_CONFLICT}:
                self._problem(f"{operation}: unexpected {error!r}")
            return str(error.code)
        except Exception as error:  # noqa: BLE001 - a violation of the error contract, reported
            self._problem(f"{operation}: leaked {type(error).__name__}: {error}")
            return f"LEAKED {type(error).__name__}"

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def _progress(self, stop: threading.Event, duration: float) -> None:
        started = time.perf_counter()
        while not stop.wait(0.5):
            elapsed = time.perf_counter() - started
            done = sum(self.done)
            sys.stderr.write(
                f"\rstress {elapsed:5.1f}/{duration:g} s  {done} operations "
                f"({done / elapsed:.0f}/s)  problems {len(self.problems)} "
            )
            sys.stderr.flush()


def _report(engine: Engine, load: _Load, args: argparse.Namespace) -> dict[str, Any]:
    checked = audit(engine, schedule_ids=load.ids)
    violations = [drift_line(drift_dict(drift)).strip() for drift in checked.drifts]
    violations += load.problems[:20]
    if len(load.problems) > 20:
        violations.append(f"... and {len(load.problems) - 20} more")
    outcomes: dict[str, dict[str, int]] = {operation: {} for operation in _OPERATIONS}
    for (operation, outcome), number in load.outcomes.most_common():
        outcomes[operation][outcome] = number
    operations = sum(load.outcomes.values())
    schedules = [load.service.get_schedule(schedule_id) for schedule_id in load.ids]
    return {
        "backend": engine.dialect.name,
        "database": shown(engine),
        "schedules": len(load.ids),
        "threads": args.threads,
        "seconds": args.seconds,
        "capacity": args.capacity,
        "operations": operations,
        **timing(operations, load.elapsed, load.latencies),
        "outcomes": outcomes,
        "conflicts": sum(
            n for (_, code), n in load.outcomes.items() if code == "CONCURRENCY_CONFLICT"
        ),
        "reserved": {schedule.id: schedule.reserved for schedule in schedules},
        "audit": {
            "schedules_checked": checked.schedules_checked,
            "drifts": [drift_dict(drift) for drift in checked.drifts],
        },
        "violations": violations,
        "consistent": not violations and checked.schedules_checked == len(load.ids),
    }


def _text(report: dict[str, Any]) -> list[str]:
    lines = [
        f"reservation-core stress on {report['backend']} ({report['database']})",
        f"{counted(report['schedules'], 'schedule')} of {counted(report['capacity'], 'seat')}, "
        f"{counted(report['threads'], 'thread')}, {report['elapsed_s']} s",
        f"{counted(report['operations'], 'operation')}, {report['throughput_per_s']}/s, "
        f"latency p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms",
    ]
    for operation, outcomes in report["outcomes"].items():
        lines.append(f"  {operation}:")
        lines += [f"    {outcome:<32}{number:>8}" for outcome, number in outcomes.items()]
    lines.append(
        f"audit: {counted(report['audit']['schedules_checked'], 'schedule')} checked, "
        f"{len(report['audit']['drifts'])} drifted"
    )
    lines += [f"violation: {violation}" for violation in report["violations"]]
    lines.append("no violations" if report["consistent"] else "VIOLATIONS FOUND")
    return lines
