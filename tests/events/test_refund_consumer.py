"""The example refund consumer killed mid-batch: every refund reaches the provider once."""

from __future__ import annotations

import collections
import signal
import subprocess
from pathlib import Path

from sqlalchemy import create_engine

from examples.fake_payment_provider import FakePaymentProvider
from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.events.consumers import start_consumer, stop_consumer

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
