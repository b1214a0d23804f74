"""``reservation-core audit``: check every schedule's seat count; ``--repair`` fixes drift.

A schedule drifts when its stored ``reserved`` differs from the sum of the quantities of
its HELD and CONFIRMED reservations (or leaves ``0..capacity``). Repair sets ``reserved`` to that
sum under the schedule's lock. An overbooked schedule (more held and confirmed seats than capacity)
is reported as unrepairable and left alone: raise its capacity or cancel reservations,
then audit again.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from reservation_core.adapters.sqlalchemy import AuditReport, ScheduleDrift
from reservation_core.adapters.sqlalchemy import audit as audit_database
from reservation_core.cli._common import counted, emit, open_engine, require_schema
from reservation_core.cli._options import Commands, add_command, add_json, add_url
from reservation_core.cli._urls import shown

SUMMARY = "check reserved == sum of HELD + CONFIRMED on every schedule (exit 1 on drift)"


def add_parser(commands: Commands) -> None:
    """Register ``audit``."""
    parser = add_command(commands, "audit", run, summary=SUMMARY, description=__doc__)
    add_url(parser, required=True)
    parser.add_argument(
        "--repair", action="store_true", help="fix drift under each schedule's lock"
    )
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Audit (and repair); 0 when the database is consistent afterwards, else 1."""
    engine = open_engine(args.url, pool_size=1, must_exist=True)
    try:
        require_schema(engine)
        report = audit_database(engine, repair=args.repair)
    finally:
        engine.dispose()
    emit(as_dict(report, engine.dialect.name, shown(engine)), args.json, _text)
    return 0 if report.consistent else 1


def as_dict(report: AuditReport, backend: str, database: str) -> dict[str, Any]:
    """The JSON form of an :class:`AuditReport`."""
    return {
        "backend": backend,
        "database": database,
        "schedules_checked": report.schedules_checked,
        "repair": report.repair,
        "drifts": [drift_dict(drift) for drift in report.drifts],
        "consistent": report.consistent,
    }


def drift_dict(drift: ScheduleDrift) -> dict[str, Any]:
    """The JSON form of a :class:`ScheduleDrift`."""
    return {**dataclasses.asdict(drift), "repairable": drift.repairable}


def drift_line(drift: dict[str, Any]) -> str:
    """One drift, for the text reports."""
    line = (
        f"  schedule {drift['schedule_id']!r}: capacity {drift['capacity']}, "
        f"stored reserved {drift['stored_reserved']}, "
        f"actual {drift['actual_reserved']} (sum of HELD + CONFIRMED)"
    )
    if drift["repaired"]:
        return f"{line} -> repaired: reserved set to {drift['actual_reserved']}"
    if not drift["repairable"]:
        return f"{line} -> unrepairable: overbooked, raise the capacity or cancel reservations"
    return line


def _text(report: dict[str, Any]) -> list[str]:
    drifts = report["drifts"]
    repaired = sum(drift["repaired"] for drift in drifts)
    checked = counted(report["schedules_checked"], "schedule")
    lines = [f"audit of {report['database']}: {checked} checked"]
    if drifts:
        lines.append(f"{len(drifts)} drifted:")
        lines += [drift_line(drift) for drift in drifts]
    if report["repair"] and drifts:
        lines.append(f"repaired {repaired} of {len(drifts)}")
    lines.append("consistent" if report["consistent"] else "DRIFT FOUND")
    return lines
