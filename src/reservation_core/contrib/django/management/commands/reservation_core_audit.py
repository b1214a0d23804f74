"""``manage.py reservation_core_audit [--repair] [--database ALIAS] [--json]``."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reservation_core.adapters.sqlalchemy._audit import audit_units
from reservation_core.cli._common import counted
from reservation_core.contrib.django._uow import DjangoUnitOfWork
from reservation_core.errors import BusinessException


class Command(BaseCommand):
    """Check every schedule's seat count against its confirmed reservations; ``--repair``."""

    help = (
        "Check that every schedule's reserved seats equal the sum of its CONFIRMED "
        "reservations; --repair fixes the drifted ones. Exits 1 if drift remains."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """``--repair``, ``--database``, ``--json``."""
        parser.add_argument("--repair", action="store_true", help="fix what can be fixed")
        parser.add_argument("--database", default=None, help="database alias (default: setting)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the audit on the alias's connection, in Django's transactions."""
        from django.conf import settings  # noqa: PLC0415

        alias = options["database"] or getattr(settings, "RESERVATION_CORE", {}).get(
            "DATABASE", "default"
        )
        try:
            report = audit_units(lambda: DjangoUnitOfWork(alias), options["repair"])
        except BusinessException as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        if options["json"]:
            body = {
                "schedules_checked": report.schedules_checked,
                "consistent": report.consistent,
                "drifts": [dataclasses.asdict(drift) for drift in report.drifts],
            }
            self.stdout.write(json.dumps(body))
        else:
            self.stdout.write(f"{counted(report.schedules_checked, 'schedule')} checked")
            for drift in report.drifts:
                state = "repaired" if drift.repaired else "not repaired"
                self.stdout.write(
                    f"{drift.schedule_id}: reserved {drift.stored_reserved}, "
                    f"confirmed {drift.actual_reserved}, capacity {drift.capacity} ({state})"
                )
        if not report.consistent:
            raise CommandError("drift remains", returncode=1)
