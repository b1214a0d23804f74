"""``maintain``: the periodic jobs once, or in a loop that SIGTERM ends cleanly."""

from __future__ import annotations

import json
import re
import signal
import threading
import uuid
from datetime import timedelta

from sqlalchemy import Engine

from reservation_core import ReservationService, ReservationStatus
from tests.cli.conftest import run_cli, start_cli, url_of

LINE = re.compile(
    r"^\S+ holds_expired=\d+ idempotency_keys_purged=\d+ events_purged=\d+ "
    r"transactions=\d+ seconds=\d+\.\d{3}$"
)
REPORT_KEYS = {
    "holds_expired",
    "idempotency_keys_purged",
    "events_purged",
    "transactions",
    "seconds",
}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_maintain_once_expires_lapsed_holds_and_prints_what_it_did(
    cli_engine: Engine, service: ReservationService
) -> None:
    schedule_id = _name("mt-once")
    service.create_schedule(schedule_id, 5)
    lapsed = service.hold_reservation(schedule_id, "ann", quantity=2, hold_for=timedelta(0, 0, 1))
    kept = service.hold_reservation(schedule_id, "bob", hold_for=timedelta(hours=1))

    result = run_cli("maintain", "--url", url_of(cli_engine), "--batch-size", "1")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert LINE.match(lines[0]), lines
    assert int(re.search(r"holds_expired=(\d+)", lines[0]).group(1)) >= 1  # type: ignore[union-attr]
    assert service.get_reservation(lapsed.id).status is ReservationStatus.EXPIRED
    assert service.get_reservation(kept.id) == kept
    assert service.get_schedule(schedule_id).reserved == 1


def test_maintain_every_loops_until_sigterm_and_stops_cleanly(
    cli_engine: Engine, service: ReservationService
) -> None:
    schedule_id = _name("mt-loop")
    service.create_schedule(schedule_id, 5)
    process = start_cli("maintain", "--url", url_of(cli_engine), "--every", "0.05", "--json")
    watchdog = threading.Timer(90, process.kill)  # a hung loop fails, never hangs the suite
    watchdog.start()
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert set(first) == REPORT_KEYS
        hold = service.hold_reservation(schedule_id, "cy", hold_for=timedelta(0, 0, 1))
        # A later run finds the hold lapsed and expires it.
        while service.get_reservation(hold.id).status is ReservationStatus.HELD:
            assert set(json.loads(process.stdout.readline())) == REPORT_KEYS
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
        process.kill()
    assert process.returncode == 0, err
    assert err == ""
    assert all(set(json.loads(line)) == REPORT_KEYS for line in out.splitlines())
    assert service.get_schedule(schedule_id).reserved == 0


def test_maintain_rejects_bad_options_as_usage_errors() -> None:
    for option in (["--every", "0"], ["--batch-size", "0"], ["--event-retention", "soon"]):
        result = run_cli("maintain", "--url", "sqlite:///x.db", *option)
        assert result.returncode == 2
        assert "usage" in result.stderr


def test_maintain_batch_size_beyond_the_limit_is_one_line_error(cli_engine: Engine) -> None:
    result = run_cli("maintain", "--url", url_of(cli_engine), "--batch-size", "10001")
    assert result.returncode == 2
    assert result.stderr.startswith("reservation-core: error: VALIDATION_ERROR")
    assert len(result.stderr.splitlines()) == 1
