"""Relay throughput: events per second from the outbox to each broker, one relay process.

Usage::

    python benchmarks/relay.py --url URL [--events 20000] [--rounds 3] [--batch 500]
        [--brokers nats,rabbitmq,redis] [--json]

Writes ``--events`` events into the database at ``URL`` (bookings and their
cancellations, on schedules of the run's own), then, for each broker and round, times a
:class:`~reservation_core.relay.Relay` of this process draining them all as a new
consumer (``relay_pending()``: claim, publish, wait for the confirmations, acknowledge)
into a stream, exchange and queue, or Redis stream of the run's own, removed afterwards.
Brokers run interleaved, round after round, and the median round is reported. The
brokers are the machine's: ``RESERVATION_CORE_NATS_URL``, ``..._RABBITMQ_URL``,
``..._REDIS_URL`` or NATS on 4222, RabbitMQ on 5672 (guest), Redis on 6379.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.relay.brokers

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from reservation_core.relay import Relay
from tests.relay.brokers import SHARED_URLS, remove


def write_events(url: str, count: int, tag: str) -> None:
    """Bookings and their cancellations, written without waiting for the disk at each commit.

    Only the relay is measured; its own engine keeps the database's usual durability.
    """
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        engine = create_engine(url, connect_args={"options": "-c synchronous_commit=off"})

    @event.listens_for(engine, "connect")
    def unsynchronized(dbapi_connection: Any, record: object) -> None:
        if engine.dialect.name == "sqlite":
            dbapi_connection.execute("PRAGMA synchronous = OFF")

    metadata.create_all(engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    schedule = f"bench-relay-{tag}"
    service.create_schedule(schedule, count)
    for n in range(count // 2):
        booking = service.create_reservation(schedule, f"user-{n}")
        service.cancel_reservation(booking.id)
    engine.dispose()


def destination(broker: str, tag: str) -> tuple[dict[str, Any], str]:
    if broker == "nats":
        stream = f"BENCH_{tag}".upper()
        return {"stream": stream, "topic": f"bench_{tag}.{{schedule_id}}.{{type}}"}, stream
    name = f"bench-{tag}"
    if broker == "rabbitmq":
        return {"exchange": name, "queue": name}, name
    return {"topic": name}, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--brokers", default="nats,rabbitmq,redis")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    write_events(args.url, args.events, run)
    engine = create_engine(args.url)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    print(f"wrote {args.events} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    brokers = args.brokers.split(",")
    timings: dict[str, list[float]] = {broker: [] for broker in brokers}
    made: list[tuple[str, str]] = []
    try:
        for turn in range(args.rounds):
            for broker in brokers:
                tag = f"{run}{turn}"
                options, where = destination(broker, tag)
                made.append((broker, where))
                url = os.environ.get(f"RESERVATION_CORE_{broker.upper()}_URL", SHARED_URLS[broker])
                consumer = f"bench-{broker}-{tag}"
                with Relay(
                    service, url, consumer=consumer, batch_size=args.batch, **options
                ) as relay:
                    begun = time.perf_counter()
                    relayed = relay.relay_pending()
                    elapsed = time.perf_counter() - begun
                # The whole outbox: this run's events and whatever the database held before.
                timings[broker].append(relayed / elapsed)
                print(f"{broker}: {relayed} events, {relayed / elapsed:.0f}/s", file=sys.stderr)
                remove(broker, url, where)
    finally:
        for broker, where in made:
            url = os.environ.get(f"RESERVATION_CORE_{broker.upper()}_URL", SHARED_URLS[broker])
            remove(broker, url, where)
        engine.dispose()
    report = {
        "database": engine.dialect.name,
        "events": args.events,
        "batch": args.batch,
        "events_per_s": {broker: round(statistics.median(v)) for broker, v in timings.items()},
    }
    print(json.dumps(report) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
