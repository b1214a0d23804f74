"""``reservation-core demo``: a booking race for a few seats, cancels and refunds, holds.

Every request books one seat for a different user; the threads are released together
by a barrier and queue on a bounded connection pool, as in a web application. Then a
hold is confirmed, and another lapses and is sold again.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import Engine

from reservation_core import BusinessException, Reservation, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, audit
from reservation_core.cli import _holds
from reservation_core.cli._common import (
    counted,
    database,
    emit,
    mark,
    released_together,
    remove_schedules,
    timing,
)
from reservation_core.cli._options import Commands, add_command, add_json, add_url, count, positive
from reservation_core.cli._urls import shown

POOL_SIZE = 10
_EXPECTED = {
    "cancel": ["CANCELLED", "RESERVATION_ALREADY_CANCELLED"],
    "refund": ["ALREADY_REFUNDED", "REFUNDED"],
}

SUMMARY = "race concurrent bookings for a few seats and check nothing is overbooked"


def add_parser(commands: Commands) -> None:
    """Register ``demo``."""
    parser = add_command(commands, "demo", run, summary=SUMMARY, description=__doc__)
    add_url(parser, required=False)
    parser.add_argument("--capacity", type=count, default=10, help="seats (default: 10)")
    parser.add_argument(
        "--requests", type=positive, default=100, help="concurrent booking requests (default: 100)"
    )
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every check holds, else 1."""
    with database(args.url, pool_size=POOL_SIZE) as engine:
        service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
        schedule_id = f"demo-{uuid.uuid4().hex[:12]}"
        service.create_schedule(schedule_id, args.capacity)
        try:
            report = _demo(engine, service, schedule_id, args.capacity, args.requests)
        finally:
            if args.url is not None:  # leave nothing behind in the operator's database
                remove_schedules(engine, [schedule_id, _holds_schedule(schedule_id)])
    emit(report, args.json, _text)
    return 0 if report["consistent"] else 1


def _demo(
    engine: Engine, service: ReservationService, schedule_id: str, capacity: int, requests: int
) -> dict[str, Any]:
    outcomes = [""] * requests
    latencies = [0.0] * requests
    booked: list[Reservation | None] = [None] * requests

    def book(index: int) -> None:
        started = time.perf_counter()
        try:
            booked[index] = service.create_reservation(schedule_id, f"user-{index:05d}")
            outcomes[index] = "CONFIRMED"
        except BusinessException as error:
            outcomes[index] = str(error.code)
        except Exception as error:  # noqa: BLE001 - reported as a failed check, never hidden
            outcomes[index] = f"UNEXPECTED {type(error).__name__}"
        latencies[index] = time.perf_counter() - started

    elapsed = released_together(requests, book)
    confirmed = [reservation for reservation in booked if reservation is not None]
    cancelled, refunded = confirmed[:2], confirmed[2:4]
    steps = [_raced_twice(service, "cancel", r.id) for r in cancelled]
    steps += [_raced_twice(service, "refund", r.id) for r in refunded]
    if cancelled:
        steps.append(_refund_after_cancel(service, cancelled[0].id))

    holds = _holds.tour(engine, _holds_schedule(schedule_id))

    released = len(cancelled) + len(refunded)
    schedule = service.get_schedule(schedule_id)
    drifts = audit(engine, schedule_ids=[schedule_id, _holds_schedule(schedule_id)]).drifts
    counts = Counter(outcomes)
    checks = {
        "reserved_equals_confirmed": not drifts,
        "no_overbooking": schedule.reserved <= capacity and len(confirmed) <= capacity,
        "every_seat_sold": len(confirmed) == min(capacity, requests),
        "seats_returned_once": schedule.reserved == len(confirmed) - released,
        "transitions_as_expected": all(step["ok"] for step in steps),
        "holds_as_expected": all(step["ok"] for step in holds),
        "no_unexpected_errors": not any(code.startswith("UNEXPECTED") for code in counts),
    }
    return {
        "backend": engine.dialect.name,
        "database": shown(engine),
        "schedule_id": schedule_id,
        "capacity": capacity,
        "requests": requests,
        "pool_size": POOL_SIZE,
        "confirmed": counts.pop("CONFIRMED", 0),
        "rejected": dict(counts.most_common()),
        "reserved": schedule.reserved,
        "remaining": schedule.remaining,
        "confirmed_seats": drifts[0].actual_reserved if drifts else schedule.reserved,
        **timing(requests, elapsed, latencies),
        "transitions": steps,
        "holds": holds,
        "checks": checks,
        "consistent": all(checks.values()),
    }


def _holds_schedule(schedule_id: str) -> str:
    return f"{schedule_id}-holds"


def _raced_twice(service: ReservationService, action: str, reservation_id: str) -> dict[str, Any]:
    """Cancel (or refund) one reservation from two threads at once: exactly one may win."""
    move = service.cancel_reservation if action == "cancel" else service.refund_reservation
    results = ["", ""]

    def attempt(index: int) -> None:
        try:
            results[index] = str(move(reservation_id).status)
        except BusinessException as error:
            results[index] = str(error.code)

    released_together(2, attempt)
    results.sort()
    expected = _EXPECTED[action]
    return _step(f"{action} twice at once", reservation_id, results, expected)


def _refund_after_cancel(service: ReservationService, reservation_id: str) -> dict[str, Any]:
    try:
        service.refund_reservation(reservation_id)
        got = "REFUNDED"
    except BusinessException as error:
        got = str(error.code)
    return _step("refund after cancel", reservation_id, [got], ["INVALID_STATE_TRANSITION"])


def _step(action: str, reservation_id: str, got: list[str], expected: list[str]) -> dict[str, Any]:
    return {
        "action": action,
        "reservation_id": reservation_id,
        "outcomes": got,
        "expected": expected,
        "ok": got == expected,
    }


def _text(report: dict[str, Any]) -> list[str]:
    checks: dict[str, bool] = report["checks"]
    return [
        f"reservation-core demo on {report['backend']} ({report['database']})",
        f"schedule {report['schedule_id']}: capacity {report['capacity']}, "
        f"{counted(report['requests'], 'concurrent request')}, "
        f"pool of {counted(report['pool_size'], 'connection')}",
        "",
        "booking race (threads released together by a barrier):",
        f"  {'CONFIRMED':<32}{report['confirmed']:>6}",
        *(f"  {code:<32}{number:>6}" for code, number in report["rejected"].items()),
        f"  throughput {report['throughput_per_s']} requests/s, "
        f"latency p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms",
        "",
        "cancel and refund:",
        *(
            f"  {step['action']:<22} {step['reservation_id'][:8]}  "
            f"{' + '.join(step['outcomes']):<44} {mark(step['ok'])}"
            for step in report["transitions"]
        ),
        "",
        f"holds (capacity {_holds.CAPACITY}; the demo's clock jumps 10 minutes):",
        *(
            f"  {step['action']:<32}{step['outcome']:<40} {mark(step['ok'])}"
            for step in report["holds"]
        ),
        "",
        f"seats: capacity {report['capacity']}, reserved {report['reserved']}, "
        f"remaining {report['remaining']}, sum of CONFIRMED {report['confirmed_seats']}",
        "checks:",
        *(f"  {name.replace('_', ' '):<32}{mark(ok)}" for name, ok in checks.items()),
        f"consistent: {'yes' if report['consistent'] else 'NO'}",
    ]
