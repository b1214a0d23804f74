"""``manage.py reservation_core_maintain [--every SECONDS] [--database ALIAS] [--json]``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reservation_core.cli._common import stop_on_signal
from reservation_core.cli._options import positive, seconds
from reservation_core.cli.maintain import housekeeping_loop
from reservation_core.contrib.django.services import get_service
from reservation_core.errors import BusinessException


class Command(BaseCommand):
    """Every periodic job of reservation_core, once or every ``--every`` seconds."""

    help = (
        "Expire lapsed holds, delete idempotency keys older than RESERVATION_CORE's "
        "IDEMPOTENCY_TTL and events every consumer has acknowledged that are older than "
        "--event-retention, in transactions of at most --batch-size rows. Once, or every "
        "--every seconds until SIGTERM or Ctrl-C; one line per run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """``--every``, ``--event-retention``, ``--batch-size``, ``--database``, ``--json``."""
        parser.add_argument(
            "--every", type=seconds, default=None, help="repeat every SECONDS until stopped"
        )
        parser.add_argument(
            "--event-retention",
            type=seconds,
            default=7 * 86400.0,
            help="keep acknowledged events this many seconds (default: 7 days)",
        )
        parser.add_argument(
            "--batch-size", type=positive, default=100, help="most rows per transaction"
        )
        parser.add_argument("--database", default=None, help="database alias (default: setting)")
        parser.add_argument("--json", action="store_true", help="one JSON object per run")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the housekeeping through the app's service, on the alias's connection."""
        service = get_service(options["database"])
        try:
            with stop_on_signal() as stop:
                housekeeping_loop(
                    service,
                    stop,
                    every=options["every"],
                    event_retention=timedelta(seconds=options["event_retention"]),
                    batch_size=options["batch_size"],
                    as_json=options["json"],
                    write=self._write,
                )
        except BusinessException as error:
            raise CommandError(f"{error.code}: {error.message}") from error

    def _write(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
