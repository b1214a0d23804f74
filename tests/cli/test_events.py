"""``events``: a consumer's events printed and acknowledged, in subprocesses.

The CLI database is shared by the CLI tests, so each test uses a consumer name and a
schedule of its own, and looks only at the lines of its schedule.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import threading
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.cli.conftest import cli_environment, run_cli, start_cli, url_of
from tests.databases import make_engine

LINE = re.compile(
    r"^(?P<id>\d+) (?P<at>\S+) (?P<type>reservation\.\w+) reservation=(?P<reservation>\S+) "
    r"schedule=(?P<schedule>\S+) user=(?P<user>\S+) quantity=(?P<quantity>\d+) "
    r"status=(?P<status>[A-Z]+)$"
)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _mine(lines: str, schedule_id: str) -> list[str]:
    return [line for line in lines.splitlines() if f"schedule={schedule_id} " in line]


def test_events_prints_each_event_once_as_text_then_acknowledges_it(
    cli_engine: Engine, service: ReservationService
) -> None:
    schedule_id, consumer = _name("ev-text"), _name("tail")
    service.create_schedule(schedule_id, 3)
    booking = service.create_reservation(schedule_id, "ann", quantity=2)
    service.refund_reservation(booking.id)

    result = run_cli("events", "--url", url_of(cli_engine), "--consumer", consumer, "--limit", "1")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    matches = [LINE.match(line) for line in _mine(result.stdout, schedule_id)]
    assert all(matches), result.stdout
    fields = [m.groupdict() for m in matches if m]
    assert [(f["type"], f["status"]) for f in fields] == [
        ("reservation.confirmed", "CONFIRMED"),
        ("reservation.refunded", "REFUNDED"),
    ]
    assert {(f["reservation"], f["user"], f["quantity"]) for f in fields} == {
        (booking.id, "ann", "2")
    }
    assert int(fields[0]["id"]) < int(fields[1]["id"])
    assert datetime.fromisoformat(fields[0]["at"]).utcoffset() is not None

    again = run_cli("events", "--url", url_of(cli_engine), "--consumer", consumer)
    assert again.returncode == 0, again.stderr
    assert _mine(again.stdout, schedule_id) == []  # acknowledged: never printed again


def test_events_json_is_one_object_per_line_and_url_comes_from_the_environment(
    cli_engine: Engine, service: ReservationService
) -> None:
    schedule_id, consumer = _name("ev-json"), _name("json")
    service.create_schedule(schedule_id, 3)
    booking = service.create_reservation(schedule_id, "bob")
    service.cancel_reservation(booking.id)

    result = run_cli(
        "events", "--consumer", consumer, "--json", env={"RESERVATION_CORE_URL": url_of(cli_engine)}
    )
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    mine = [o for o in objects if o["schedule_id"] == schedule_id]
    assert [(o["type"], o["status"]) for o in mine] == [
        ("reservation.confirmed", "CONFIRMED"),
        ("reservation.cancelled", "CANCELLED"),
    ]
    for event in mine:
        assert set(event) == {
            "id", "type", "reservation_id", "schedule_id", "user_id", "quantity", "status",
            "occurred_at",
        }  # fmt: skip
        assert (event["reservation_id"], event["user_id"], event["quantity"]) == (
            booking.id, "bob", 1,
        )  # fmt: skip
        assert datetime.fromisoformat(event["occurred_at"]).utcoffset() is not None
    ids = [o["id"] for o in objects]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def _read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline()


def test_follow_tails_new_events_and_ctrl_c_ends_it_cleanly(
    cli_engine: Engine, service: ReservationService
) -> None:
    schedule_id, consumer = _name("ev-follow"), _name("follow")
    url = url_of(cli_engine)
    drained = run_cli("events", "--url", url, "--consumer", consumer)  # the past, acked
    assert drained.returncode == 0, drained.stderr
    service.create_schedule(schedule_id, 3)

    process = start_cli("events", "--url", url, "--consumer", consumer, "--follow", "--json")
    watchdog = threading.Timer(90, process.kill)  # a hung tail fails, never hangs the suite
    watchdog.start()
    try:
        first = service.create_reservation(schedule_id, "cy")
        seen = json.loads(_read_line(process))
        assert (seen["reservation_id"], seen["type"]) == (first.id, "reservation.confirmed")
        # Printed while it runs: the second change comes after it has printed the first.
        service.cancel_reservation(first.id)
        seen = json.loads(_read_line(process))
        assert (seen["reservation_id"], seen["type"]) == (first.id, "reservation.cancelled")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
        process.kill()
    assert process.returncode == 0, err
    assert err == ""
    assert out == ""  # nothing more happened
    # What it printed was acknowledged: the consumer has nothing left of this schedule.
    again = run_cli("events", "--url", url, "--consumer", consumer)
    assert again.returncode == 0, again.stderr
    assert _mine(again.stdout, schedule_id) == []


def test_events_rejects_a_bad_limit_or_lease_as_usage_errors() -> None:
    for option in (["--limit", "0"], ["--lease", "-1"], ["--lease", "soon"]):
        result = run_cli("events", "--url", "sqlite:///x.db", "--consumer", "c", *option)
        assert result.returncode == 2
        assert option[0] in result.stderr
    result = run_cli("events", "--url", "sqlite:///x.db")
    assert result.returncode == 2
    assert "--consumer" in result.stderr


def test_events_piped_into_head_ends_quietly_with_status_0(tmp_path: Path) -> None:
    """``reservation-core events … | head``: the reader leaves early; no traceback, status 0."""
    engine = make_engine(f"sqlite:///{tmp_path / 'many.sqlite3'}")
    metadata.create_all(engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    service.create_schedule("crowd", 2000)
    for n in range(600):  # ~110 kB of lines: more than a pipe holds
        service.create_reservation("crowd", f"user-{n}")
    engine.dispose()

    command = [sys.executable, "-m", "reservation_core", "events", "--url", url_of(engine)]
    pipeline = (
        f'{shlex.join(command)} --consumer head | head -n 2; echo "status ${{PIPESTATUS[0]}}" >&2'
    )
    result = subprocess.run(  # noqa: S603 - bash runs our own interpreter, as a user would
        ["bash", "-c", pipeline],  # noqa: S607
        env=cli_environment({}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr == "status 0\n"  # no BrokenPipeError traceback
