"""The example refund consumer killed mid-batch: every refund reaches the provider once."""

from __future__ import annotations

import collections
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine

from examples.fake_payment_provider import FakePaymentProvider
from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.events.consumers import start_consumer, stop_consumer, watch_consumer
from tests.processes import WatchedProcess

REFUNDS = 30
KILLED_AFTER = 10  # refunds the provider has made when the first consumer is killed


def test_a_consumer_killed_mid_batch_refunds_each_reservation_exactly_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'refunds.sqlite3'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    service.create_schedule("concert", REFUNDS + 5)
    refunded = []
    for n in range(REFUNDS):
        booking = service.create_reservation("concert", f"fan-{n}")
        refunded.append(service.refund_reservation(booking.id).id)
    kept = service.create_reservation("concert", "stays")
    service.cancel_reservation(service.create_reservation("concert", "leaves").id)

    first: list[subprocess.Popen[str]] = []

    def kill_mid_batch(made: int) -> None:
        # The provider has refunded, the consumer waits for the answer: it dies before
        # it could acknowledge any of its batch.
        if made == KILLED_AFTER:
            first[0].send_signal(signal.SIGKILL)
            first[0].wait(timeout=60)

    with FakePaymentProvider(on_refund=kill_mid_batch) as provider:
        first.append(start_consumer(url, provider.url, lease=1))
        first[0].communicate(timeout=60)
        assert first[0].returncode == -signal.SIGKILL
        assert len(provider.refunds) == KILLED_AFTER
        assert len(provider.requests) == KILLED_AFTER

        second = start_consumer(url, provider.url, lease=1)
        try:
            assert provider.wait_for_refunds(REFUNDS, timeout=60), provider.refunds.keys()
        finally:
            status, err = stop_consumer(second)
        assert status == 0, err

    events = {e.id: e for e in service.claim_events("audit-only", limit=1000)}
    refund_keys = {f"event-{i}" for i, e in events.items() if e.type == "reservation.refunded"}
    assert len(refund_keys) == REFUNDS
    # Exactly once in effect: one refund per event, each of a refunded reservation.
    assert set(provider.refunds) == refund_keys
    assert sorted(r["reservation_id"] for r in provider.refunds.values()) == sorted(refunded)
    assert kept.id not in {r["reservation_id"] for r in provider.refunds.values()}
    # The killed batch came back: its first refunds were asked for again, and answered
    # with the original refund rather than a second one.
    asked = collections.Counter(provider.requests)
    assert set(asked) == refund_keys
    assert sorted(asked.values()) == [1] * (REFUNDS - KILLED_AFTER) + [2] * KILLED_AFTER
    # Every event, refunds and the rest, was acknowledged by the consumer.
    assert service.claim_events("refunds") == []
    engine.dispose()


RETRYING = re.compile(r"payment provider unavailable .*: retrying event \d+ in ([\d.]+) s")
GIVEN_BACK = re.compile(r"payment provider unavailable .*: the lease runs out")


def refunded_reservations(url: str, count: int) -> ReservationService:
    engine = create_engine(url)
    metadata.create_all(engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    service.create_schedule("concert", count)
    for n in range(count):
        service.refund_reservation(service.create_reservation("concert", f"fan-{n}").id)
    return service


@contextmanager
def provider_down(url: str, *options: str) -> Iterator[tuple[WatchedProcess, socket.socket]]:
    """A consumer started against a provider whose port refuses connections (bound, never
    listening); the consumer is stopped at the end if it still runs."""
    down = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    down.bind(("127.0.0.1", 0))
    consumer = watch_consumer(url, f"http://127.0.0.1:{down.getsockname()[1]}", *options)
    try:
        yield consumer, down
    finally:
        down.close()
        if consumer.process.poll() is None:
            consumer.stop()


def provider_back_up(
    consumer: WatchedProcess, down: socket.socket, service: ReservationService, count: int
) -> None:
    """The provider opens on that port: each refund is then made, asked for once, and the
    consumer stops cleanly on SIGTERM, every event acknowledged."""
    port = down.getsockname()[1]
    down.close()
    with FakePaymentProvider(port=port) as provider:
        assert provider.wait_for_refunds(count, timeout=60), provider.refunds
        assert consumer.stop() == 0, consumer.output
    assert "Traceback" not in consumer.output, consumer.output
    # The attempts that met no provider never reached it.
    assert sorted(collections.Counter(provider.requests).values()) == [1] * count
    assert service.claim_events("refunds") == []


def test_a_consumer_backs_off_while_the_provider_is_down_then_refunds_each_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'refunds.sqlite3'}"
    service = refunded_reservations(url, 5)
    options = ("--lease", "60", "--retry-first", "0.2", "--retry-max", "1")
    with provider_down(url, *options) as (consumer, down):
        pauses = [
            float(RETRYING.search(line).group(1))  # type: ignore[union-attr]
            for line in consumer.wait_for(RETRYING, count=5)
        ]
        # Steps doubling from 0.2 s up to 1 s, each pause drawn in the upper half of its
        # step (the log shows tenths of a second).
        for attempt, pause in enumerate(pauses):
            step = min(1.0, 0.2 * 2**attempt)
            assert step / 2 - 0.05 <= pause <= step + 0.05, pauses
        provider_back_up(consumer, down, service, 5)


def test_a_batch_whose_lease_runs_out_while_the_provider_is_down_is_claimed_again(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'refunds.sqlite3'}"
    service = refunded_reservations(url, 3)
    options = ("--lease", "1", "--retry-first", "0.2", "--retry-max", "0.4")
    with provider_down(url, *options) as (consumer, down):
        consumer.wait_for(GIVEN_BACK, count=2)
        provider_back_up(consumer, down, service, 3)
