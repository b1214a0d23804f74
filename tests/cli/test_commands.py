"""``demo``, ``stress``, ``audit`` and ``migrate`` end to end, in subprocesses."""

from __future__ import annotations

import json
import os
import pty
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from reservation_core import BusinessException, ErrorCode, ReservationService, migrations
from reservation_core.adapters.sqlalchemy import metadata
from tests.cli.conftest import BACKENDS, empty_database, run_cli, url_of

DEMO_FIELDS = {
    "backend", "capacity", "requests", "confirmed", "rejected", "reserved", "consistent",
    "throughput_per_s", "p50_ms", "p99_ms",
}  # fmt: skip


def _gone(service: ReservationService, schedule_id: str) -> bool:
    with pytest.raises(BusinessException) as caught:
        service.get_schedule(schedule_id)
    return caught.value.code is ErrorCode.SCHEDULE_NOT_FOUND


def test_demo_on_embedded_sqlite_prints_a_readable_report() -> None:
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "reservation-core demo on sqlite" in out
    assert "CONFIRMED                           10" in out
    assert "CAPACITY_EXCEEDED                   90" in out
    assert "CANCELLED + RESERVATION_ALREADY_CANCELLED" in out
    assert "ALREADY_REFUNDED + REFUNDED" in out
    assert "requests/s" in out
    assert "p99" in out
    assert "seats: capacity 10, reserved 6, remaining 4" in out
    for step, outcome in [
        ("hold ann (10 min)", "HELD"),
        ("confirm ann", "CONFIRMED"),
        ("book cy: full", "CAPACITY_EXCEEDED"),
        ("confirm bob, 10 min later", "HOLD_EXPIRED"),
        ("book cy: bob's seat", "CONFIRMED"),
    ]:
        assert re.search(rf"{re.escape(step)} +{outcome} +ok", out), out
    assert out.rstrip().endswith("consistent: yes")
    assert result.stderr == ""


def test_demo_json_books_exactly_the_capacity(
    cli_engine: Engine, service: ReservationService
) -> None:
    result = run_cli("demo", "--url", url_of(cli_engine), "--json", "--capacity", "7")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert DEMO_FIELDS.issubset(report)
    assert report["backend"] == cli_engine.dialect.name
    assert (report["capacity"], report["requests"]) == (7, 100)
    assert report["confirmed"] == 7
    assert report["rejected"] == {"CAPACITY_EXCEEDED": 93}
    assert report["reserved"] == 7 - 4  # two cancelled, two refunded
    assert [step["outcome"] for step in report["holds"]] == [
        "HELD", "CONFIRMED", "HELD", "CAPACITY_EXCEEDED", "HOLD_EXPIRED", "CONFIRMED",
    ]  # fmt: skip
    assert report["checks"]["holds_as_expected"] is True
    assert report["consistent"] is True
    assert all(report["checks"].values())
    assert report["throughput_per_s"] > 0
    assert 0 < report["p50_ms"] <= report["p99_ms"]
    assert _gone(service, report["schedule_id"])


def test_stress_runs_a_mixed_load_and_audits_it(
    cli_engine: Engine, service: ReservationService
) -> None:
    args = ("--url", url_of(cli_engine), "--seconds", "2", "--threads", "4", "--json")
    result = run_cli("stress", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # no progress line: stderr is not a terminal
    report = json.loads(result.stdout)
    assert report["consistent"] is True
    assert report["violations"] == []
    assert report["audit"] == {"schedules_checked": 4, "drifts": []}
    assert report["outcomes"]["create"]["CONFIRMED"] > 0
    assert report["operations"] == sum(
        number for outcomes in report["outcomes"].values() for number in outcomes.values()
    )
    assert all(_gone(service, schedule_id) for schedule_id in report["reserved"])


def test_audit_finds_planted_drift_and_repair_fixes_it(
    cli_engine: Engine,
    service: ReservationService,
    plant: Callable[[str, str], None],
) -> None:
    url = url_of(cli_engine)
    schedule_id = f"drift-{uuid.uuid4().hex[:12]}"
    service.create_schedule(schedule_id, 5)
    service.create_reservation(schedule_id, "u1", quantity=2)
    plant(schedule_id, "UPDATE rc_schedules SET reserved = 4 WHERE id = :id")

    found = run_cli("audit", "--url", url)
    assert found.returncode == 1, found.stderr
    assert f"schedule {schedule_id!r}: capacity 5, stored reserved 4, actual 2" in found.stdout
    assert "DRIFT FOUND" in found.stdout

    as_json = json.loads(run_cli("audit", "--url", url, "--json").stdout)
    assert as_json["consistent"] is False
    assert as_json["drifts"] == [
        {
            "schedule_id": schedule_id,
            "capacity": 5,
            "stored_reserved": 4,
            "actual_reserved": 2,
            "repaired": False,
            "repairable": True,
        }
    ]

    repaired = run_cli("audit", "--url", url, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired: reserved set to 2" in repaired.stdout
    assert service.get_schedule(schedule_id).reserved == 2
    assert run_cli("audit", "--url", url).returncode == 0


@pytest.mark.parametrize("name", BACKENDS)
def test_migrate_builds_the_schema_and_prints_its_sql(name: str, tmp_path: Path) -> None:
    engine = empty_database(name, "rc_cli_migrate", tmp_path)
    url = url_of(engine)
    try:
        script = run_cli("migrate", "--url", url, "--sql")
        assert script.returncode == 0, script.stderr
        assert "CREATE TABLE rc_schedules" in script.stdout
        assert not inspect(engine).get_table_names()

        for _ in range(2):  # a second run finds nothing to do
            result = run_cli("migrate", "--url", url)
            assert result.returncode == 0, result.stderr
            assert "0007_rc_waitlists" in result.stdout
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) | {migrations.VERSION_TABLE} <= tables
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", BACKENDS)
def test_migrate_adopts_tables_made_by_create_all(name: str, tmp_path: Path) -> None:
    engine = empty_database(name, "rc_cli_migrate", tmp_path)
    url = url_of(engine)
    try:
        metadata.create_all(engine)
        refused = run_cli("migrate", "--url", url)
        assert refused.returncode == 2
        assert "not under migrations" in refused.stderr
        assert "reservation-core migrate --adopt" in refused.stderr
        assert len(refused.stderr.splitlines()) == 1

        adopted = run_cli("migrate", "--url", url, "--adopt")
        assert adopted.returncode == 0, adopted.stderr
        assert "adopted the rc_ tables made by metadata.create_all" in adopted.stdout
        assert migrations.current_revision(engine) == ("0007_rc_waitlists",)
        again = run_cli("migrate", "--url", url, "--adopt")  # safe in every deployment
        assert again.returncode == 0, again.stderr
        assert "adopted" not in again.stdout
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", BACKENDS)
def test_migrate_refuses_to_adopt_tables_that_differ(name: str, tmp_path: Path) -> None:
    engine = empty_database(name, "rc_cli_migrate", tmp_path)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE rc_idempotency_keys"))
        result = run_cli("migrate", "--url", url_of(engine), "--adopt")
        assert result.returncode == 2
        assert "cannot be adopted" in result.stderr
        assert "rc_idempotency_keys" in result.stderr
        assert migrations.current_revision(engine) == ()
    finally:
        engine.dispose()


def test_stress_shows_progress_on_a_terminal() -> None:
    controller, terminal = pty.openpty()
    try:
        result = run_cli("stress", "--seconds", "1", stderr=terminal)
        progress = os.read(controller, 65536).decode()
    finally:
        os.close(controller)
        os.close(terminal)
    assert result.returncode == 0, result.stdout
    assert "\rstress " in progress
    assert "operations" in progress
