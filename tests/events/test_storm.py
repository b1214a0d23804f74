"""A storm of bookings, cancels and refunds while a DBA kills the connections every 100 ms.

Afterwards each reservation has exactly the events its history implies, and two consumer
processes draining them together refund each refunded reservation exactly once at the
(fake) payment provider. The storm runs on a database of its own (``..._events_storm``):
the killer kills every connection to it but its own, and never one to another database.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from examples.fake_payment_provider import FakePaymentProvider
from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, audit, metadata
from tests.databases import make_engine, separate_database_url
from tests.events.consumers import REFUND_CONSUMER, start_consumer, stop_consumer
from tests.killer import kill_connections_until

STORM_SECONDS = 3.0
WORKERS = 6
SCHEDULES = ["storm-a", "storm-b", "storm-c"]
#: Codes a caller retries: the connection died under the call, or a conflict to retry.
RETRIED = {ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.CONCURRENCY_CONFLICT}
#: Codes that say a retried cancel or refund had already happened.
ALREADY = {ErrorCode.RESERVATION_ALREADY_CANCELLED, ErrorCode.ALREADY_REFUNDED}
EXPECTED = {
    "CONFIRMED": ["reservation.confirmed"],
    "CANCELLED": ["reservation.cancelled", "reservation.confirmed"],
    "REFUNDED": ["reservation.confirmed", "reservation.refunded"],
}
_EVENTS = metadata.tables["rc_events"]
_RESERVATIONS = metadata.tables["rc_reservations"]


@pytest.fixture(params=["postgresql", "mariadb"])
def storm_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on the storm's own database, rebuilt empty."""
    engine = make_engine(separate_database_url(request.param, "events_storm"), pool_size=WORKERS)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _retried(call: Callable[[], Any]) -> Any:
    """``call()``, again while the storage fails under it; ``None`` when refused."""
    for _ in range(20):
        try:
            return call()
        except BusinessException as error:
            if error.code in ALREADY:
                return None  # an earlier try went through before its connection died
            if error.code not in RETRIED:
                return None
    return None


def _storm(service: ReservationService) -> tuple[list[Exception], int]:
    """Book, cancel and refund from ``WORKERS`` threads for ``STORM_SECONDS``."""
    unexpected: list[Exception] = []
    booked = [0]
    barrier = threading.Barrier(WORKERS)

    def work(index: int) -> None:
        barrier.wait()
        deadline = time.monotonic() + STORM_SECONDS
        n = 0
        while time.monotonic() < deadline:
            n += 1
            # One user per key: a retry that booked twice would show as two reservations.
            user = f"w{index}-{n}"
            schedule = SCHEDULES[n % len(SCHEDULES)]
            try:
                booking = _retried(
                    lambda s=schedule, u=user: service.create_reservation(s, u, idempotency_key=u)
                )
                if booking is None:
                    continue
                booked[0] += 1
                if n % 3 == 1:
                    _retried(lambda b=booking.id: service.cancel_reservation(b))
                elif n % 3 == 2:
                    _retried(lambda b=booking.id: service.refund_reservation(b))
            except Exception as error:  # noqa: BLE001 - every raw exception is a failure
                unexpected.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return unexpected, booked[0]


def _drain_with_two_consumers(engine: Engine, refunds: int) -> FakePaymentProvider:
    url = engine.url.render_as_string(hide_password=False)
    with FakePaymentProvider() as provider:
        consumers = [start_consumer(REFUND_CONSUMER, url, provider.url, lease=2) for _ in range(2)]
        try:
            done = provider.wait_for_made(refunds, timeout=120)
        finally:
            stopped = [stop_consumer(consumer) for consumer in consumers]
        assert done, f"{len(provider.made)} of {refunds} refunds reached the provider"
        assert stopped == [(0, ""), (0, "")]
    return provider


def test_a_storm_under_connection_kills_leaves_exactly_the_events_of_each_history(
    storm_engine: Engine,
) -> None:
    engine = storm_engine
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    for schedule in SCHEDULES:
        service.create_schedule(schedule, 40)

    stop, killed = threading.Event(), list[int]()
    killer = threading.Thread(target=kill_connections_until, args=(engine.url, stop, killed))
    killer.start()
    try:
        unexpected, booked = _storm(service)
    finally:
        stop.set()
        killer.join()
    # The killer may have killed connections while they idled in the pool: the checks
    # below read on fresh ones.
    engine.dispose()
    assert unexpected == []
    assert killed, "the killer found no connection to kill"
    assert booked > 0

    with engine.connect() as connection:
        rows = connection.execute(select(_RESERVATIONS.c.id, _RESERVATIONS.c.status))
        statuses = {row.id: row.status for row in rows}
        users = list(connection.execute(select(_RESERVATIONS.c.user_id)).scalars())
        events = list(
            connection.execute(select(_EVENTS.c.id, _EVENTS.c.reservation_id, _EVENTS.c.type))
        )
    histories: dict[str, list[str]] = collections.defaultdict(list)
    for _, reservation_id, event_type in events:
        histories[reservation_id].append(event_type)
    assert set(histories) <= set(statuses), "an event of a reservation that does not exist"
    for reservation_id, status in statuses.items():
        assert sorted(histories[reservation_id]) == EXPECTED[status], (reservation_id, status)
    assert len(users) == len(set(users)), "a retried booking booked twice"
    assert audit(engine).consistent

    refunded = {rid for rid, status in statuses.items() if status == "REFUNDED"}
    refund_keys = {f"event-{i}" for i, _, t in events if t == "reservation.refunded"}
    assert refunded
    provider = _drain_with_two_consumers(engine, len(refunded))
    assert set(provider.made) == refund_keys
    assert set(provider.requests) == refund_keys
    assert sorted(r["reservation_id"] for r in provider.made.values()) == sorted(refunded)
    assert service.claim_events("refunds") == []  # both acknowledged all they claimed
