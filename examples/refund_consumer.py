"""A consumer of the library's events: every ``reservation.refunded`` refunds at the provider.

Run it beside your application, as many processes as you like::

    python -m examples.refund_consumer --url postgresql+psycopg://app@db/app \\
        --provider http://127.0.0.1:8000

It claims a batch of events for the consumer ``refunds``, asks the payment provider to
refund each ``reservation.refunded`` one, and acknowledges the batch; other event types are
acknowledged without a call. The provider's ``Idempotency-Key`` is the event id: a process
killed after the provider refunded but before it acknowledged leaves the event to be
claimed again once its lease runs out, and the provider answers the repeat with the
original refund instead of refunding twice. So each refund reaches the provider exactly
once in effect, whatever dies when.

SIGINT or SIGTERM stop it once the batch in hand is done and acknowledged.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.request
from datetime import timedelta
from types import FrameType

from sqlalchemy import create_engine

from reservation_core import ReservationEvent, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork

IDLE_PAUSE = 0.2  # seconds between two claims that found nothing


def refund_at_provider(provider_url: str, event: ReservationEvent) -> None:
    """Ask the provider to refund ``event``'s reservation, keyed by the event id.

    Raises:
        urllib.error.URLError: the provider cannot be reached or refused (the event is
            then not acknowledged, and comes back after its lease).
    """
    body = json.dumps({"reservation_id": event.reservation_id, "quantity": event.quantity})
    request = urllib.request.Request(
        f"{provider_url}/refunds",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": f"event-{event.id}"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass  # 201 refunded, 200 the repeat of a refund made before: both are done


def handle_batch(
    service: ReservationService, consumer: str, provider_url: str, lease: float
) -> int:
    """Claim one batch, refund its refunded reservations, acknowledge it; its size."""
    events = service.claim_events(consumer, limit=100, lease=timedelta(seconds=lease))
    for event in events:
        if event.type == "reservation.refunded":
            refund_at_provider(provider_url, event)
    if events:
        service.ack_events(consumer, [event.id for event in events])
    return len(events)


def main(argv: list[str] | None = None) -> int:
    """Consume until SIGINT or SIGTERM; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("RESERVATION_CORE_URL"))
    parser.add_argument("--provider", required=True, help="the payment provider's base URL")
    parser.add_argument("--consumer", default="refunds")
    parser.add_argument("--lease", type=float, default=30.0, help="seconds (default: 30)")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give --url or set RESERVATION_CORE_URL")

    stop = threading.Event()

    def asked(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, asked)
    signal.signal(signal.SIGTERM, asked)
    engine = create_engine(args.url, pool_pre_ping=True)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    print("consuming", flush=True)
    try:
        while not stop.is_set():
            if not handle_batch(service, args.consumer, args.provider, args.lease):
                stop.wait(IDLE_PAUSE)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
