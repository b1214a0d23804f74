"""``reservation-core relay`` as an operator runs it: progress in its log, a clean stop on
SIGTERM, and no password ever shown."""

from __future__ import annotations

import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from reservation_core.relay import message
from tests.cli.conftest import run_cli, start_cli, url_of
from tests.databases import database_url, make_engine, separate_database_url
from tests.relay.brokers import Instance, RedisInstance, received
from tests.relay.conftest import Place

BROKER_SECRET = "br0ker-s3cret-pw"  # noqa: S105 - the password the output must never show
DATABASE_SECRET = "d4tabase-s3cret-pw"  # noqa: S105


def _wait_for_line(process: subprocess.Popen[str], text: str) -> list[str]:
    """The stderr lines up to the first that holds ``text``."""
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"the relay ended before logging {text!r}: {lines}")


def test_relay_logs_progress_and_stops_cleanly_on_sigterm(
    outbox_engine: Engine, service: ReservationService, shared: Place
) -> None:
    service.create_schedule("yoga", 300)
    booked = [service.create_reservation("yoga", f"user-{n}") for n in range(250)]
    options = [f"--{key}={value}" for key, value in shared.options.items()]
    process = start_cli(
        "relay", "--url", url_of(outbox_engine), "--to", shared.url, "--batch", "100",
        "--progress", "0.01", *options,
    )  # fmt: skip
    watchdog = threading.Timer(90, process.kill)  # a hung relay fails, never hangs the suite
    watchdog.start()
    try:
        lines = _wait_for_line(process, "caught up:")
        # Still running: what comes now is relayed too, until SIGTERM.
        service.cancel_reservation(booked[0].id)
        lines += _wait_for_line(process, "caught up:")
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=60)[1]
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.communicate()
    log = "".join(lines) + rest
    assert process.returncode == 0, log
    assert "relaying the events of consumer 'relay' to" in log
    assert "relayed 100 events" in log  # a line per batch at --progress 0.01
    assert "; lag " in log
    assert "stopped: 251 events relayed" in log
    assert all(line.startswith("reservation-core: INFO: ") for line in log.splitlines()), log

    got = received(shared.broker, shared.url, shared.where)
    assert len(got) == 251
    assert got[-1].body == message(service.claim_events("check", limit=300)[-1])


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[Instance]:
    instance = RedisInstance(tmp_path)
    instance.password = BROKER_SECRET
    try:
        instance.start()
        yield instance
    finally:
        instance.kill()


@pytest.fixture
def database_with_password() -> Iterator[Engine]:
    """The PostgreSQL test database, its URL with a password (trust auth ignores it)."""
    database_url("postgresql")  # skips, or fails when required, without PostgreSQL
    url = make_url(separate_database_url("postgresql", "relay_cli")).set(password=DATABASE_SECRET)
    engine = make_engine(url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_no_password_is_ever_shown(
    redis_with_password: Instance, database_with_password: Engine
) -> None:
    url, broker = url_of(database_with_password), redis_with_password.url
    assert DATABASE_SECRET in url
    assert BROKER_SECRET in broker
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(database_with_password))
    schedule = f"secret-{uuid.uuid4().hex[:8]}"
    service.create_schedule(schedule, 1)

    process = start_cli("relay", "--url", url, "--to", broker, "--progress", "0.01")
    watchdog = threading.Timer(90, process.kill)  # a hung relay fails, never hangs the suite
    watchdog.start()
    try:
        lines = _wait_for_line(process, "relaying the events")
        redis_with_password.kill()
        service.create_reservation(schedule, "ann")  # not publishable: logged, retried
        lines += _wait_for_line(process, "trying again")
        process.send_signal(signal.SIGTERM)  # during the backoff: stops at once
        out, err = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.communicate()
    log = "".join(lines) + err + out
    assert process.returncode == 0, log
    assert "redis://:***@127.0.0.1" in log
    assert "postgresql+psycopg://postgres:***@127.0.0.1" in log

    redis_with_password.start()
    refused = run_cli("relay", "--url", url, "--to", broker.replace(BROKER_SECRET, "wr0ng-pa55"))
    assert refused.returncode == 2
    assert "cannot connect to redis://:***@" in refused.stderr
    redis_with_password.kill()
    from_environment = run_cli(
        "relay", "--url", url, env={"RESERVATION_CORE_BROKER_URL": broker}
    )  # the broker is down now: a one-line error, status 2
    assert from_environment.returncode == 2
    assert from_environment.stderr.count("\n") == 2  # where it reads from, then the error
    everything = log + refused.stdout + refused.stderr + from_environment.stderr
    for secret in (BROKER_SECRET, DATABASE_SECRET, "wr0ng-pa55"):
        assert secret not in everything
