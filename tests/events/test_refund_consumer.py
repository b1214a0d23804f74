"""The example refund consumer killed mid-batch: every refund reaches the provider once."""

from __future__ import annotations

import collections
import re
import signal
import socket
from pathlib import Path

from sqlalchemy import create_engine

from examples.fake_payment_provider import FakePaymentProvider
from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.events.consumers import (
    REFUND_CONSUMER,
    assert_backs_off,
    service_down,
    signalled_mid_batch,
    start_consumer,
    stop_consumer,
)
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

    with FakePaymentProvider() as provider:
        # The provider has refunded, the consumer waits for the answer: it dies before it
        # could acknowledge any of its batch.
        status, _ = signalled_mid_batch(
            REFUND_CONSUMER, url, provider, signal.SIGKILL, after=KILLED_AFTER, lease=1
        )
        assert status == -signal.SIGKILL
        assert len(provider.made) == KILLED_AFTER
        assert len(provider.requests) == KILLED_AFTER

        second = start_consumer(REFUND_CONSUMER, url, provider.url, lease=1)
        try:
            assert provider.wait_for_made(REFUNDS, timeout=60), provider.made.keys()
        finally:
            status, err = stop_consumer(second)
        assert status == 0, err

    events = {e.id: e for e in service.claim_events("audit-only", limit=1000)}
    refund_keys = {f"event-{i}" for i, e in events.items() if e.type == "reservation.refunded"}
    assert len(refund_keys) == REFUNDS
    # Exactly once in effect: one refund per event, each of a refunded reservation.
    assert set(provider.made) == refund_keys
    assert sorted(r["reservation_id"] for r in provider.made.values()) == sorted(refunded)
    assert kept.id not in {r["reservation_id"] for r in provider.made.values()}
    # The killed batch came back: its first refunds were asked for again, and answered
    # with the original refund rather than a second one.
    asked = collections.Counter(provider.requests)
    assert set(asked) == refund_keys
    assert sorted(asked.values()) == [1] * (REFUNDS - KILLED_AFTER) + [2] * KILLED_AFTER
    # Every event, refunds and the rest, was acknowledged by the consumer.
    assert service.claim_events("refunds") == []
    engine.dispose()


GIVEN_BACK = re.compile(r"payment provider unavailable .*: the lease runs out")


def refunded_reservations(url: str, count: int) -> ReservationService:
    engine = create_engine(url)
    metadata.create_all(engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    service.create_schedule("concert", count)
    for n in range(count):
        service.refund_reservation(service.create_reservation("concert", f"fan-{n}").id)
    return service


def provider_back_up(
    consumer: WatchedProcess, down: socket.socket, service: ReservationService, count: int
) -> None:
    """The provider opens on that port: each refund is then made, asked for once, and the
    consumer stops cleanly on SIGTERM, every event acknowledged."""
    port = down.getsockname()[1]
    down.close()
    with FakePaymentProvider(port=port) as provider:
        assert provider.wait_for_made(count, timeout=60), provider.made
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
    with service_down(REFUND_CONSUMER, url, *options) as (consumer, down):
        assert_backs_off(consumer, count=5, first=0.2, maximum=1.0)
        provider_back_up(consumer, down, service, 5)


def test_a_batch_whose_lease_runs_out_while_the_provider_is_down_is_claimed_again(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'refunds.sqlite3'}"
    service = refunded_reservations(url, 3)
    options = ("--lease", "1", "--retry-first", "0.2", "--retry-max", "0.4")
    with service_down(REFUND_CONSUMER, url, *options) as (consumer, down):
        consumer.wait_for(GIVEN_BACK, count=2)
        provider_back_up(consumer, down, service, 3)
