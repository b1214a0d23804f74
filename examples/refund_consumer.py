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

A provider that cannot be reached, times out or answers a 5xx, 408 or 429 is asked again
after a pause that doubles from ``--retry-first`` up to ``--retry-max`` seconds, each
jittered, each logged as a warning; the events handled before are acknowledged. Once
the batch's lease would run out during the next pause, the consumer gives the rest of
the batch back (it is claimed again, by this process or another) and goes on backing
off. Any other refusal is a bug to fix, not to retry: the consumer stops with it.

SIGINT or SIGTERM stop it once the batch in hand is done and acknowledged (or, while it
waits to retry, at once, with what it has done acknowledged).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from types import FrameType

from sqlalchemy import create_engine

from reservation_core import ReservationEvent, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork

IDLE_PAUSE = 0.2  # seconds between two claims that found nothing
log = logging.getLogger("examples.refund_consumer")
#: Provider answers that say "not now" rather than "no": worth asking again.
RETRIED_STATUSES = frozenset({408, 429})


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


def provider_down(error: Exception) -> bool:
    """True for a failure that a later attempt may not meet: unreachable, slow, 5xx."""
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500 or error.code in RETRIED_STATUSES
    return isinstance(error, urllib.error.URLError | TimeoutError | ConnectionError)


class Backoff:
    """Pauses between attempts: doubling from ``first`` up to ``maximum`` seconds, jittered.

    Each pause is drawn between half and all of its step, so that consumers which met
    the same outage do not all come back at the same moment. :meth:`reset` after a success.
    """

    def __init__(self, first: float, maximum: float) -> None:
        self.first, self.maximum = first, maximum
        self.failures = 0

    def pause(self) -> float:
        step = min(self.maximum, self.first * 2 ** min(self.failures, 32))
        self.failures += 1
        return random.uniform(step / 2, step)

    def reset(self) -> None:
        self.failures = 0


def refunds_done(
    events: list[ReservationEvent],
    provider_url: str,
    backoff: Backoff,
    stop: threading.Event,
    deadline: float,
) -> Iterator[ReservationEvent]:
    """``events`` as each is handled: refunded at the provider, or needing no call.

    Stops early on ``stop``, or when the next pause would end past ``deadline`` (the
    batch's lease: the events left are then claimed again, after that pause).
    """
    for position, event in enumerate(events):
        while event.type == "reservation.refunded":
            try:
                refund_at_provider(provider_url, event)
            except Exception as error:
                if not provider_down(error):
                    raise
                pause = backoff.pause()
                if time.monotonic() + pause >= deadline:
                    log.warning(
                        "payment provider unavailable (%s): the lease runs out, the %d "
                        "events left are claimed again in %.1f s",
                        error,
                        len(events) - position,
                        pause,
                    )
                    stop.wait(pause)
                    return
                log.warning(
                    "payment provider unavailable (%s): retrying event %d in %.1f s",
                    error,
                    event.id,
                    pause,
                )
                if stop.wait(pause):
                    return
            else:
                backoff.reset()
                break
        yield event


def handle_batch(
    service: ReservationService,
    consumer: str,
    provider_url: str,
    lease: float,
    *,
    backoff: Backoff | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Claim one batch, refund its refunded reservations, acknowledge them; its size.

    What was handled is acknowledged even if the rest is not (the provider is down, or
    the consumer was asked to stop).
    """
    deadline = time.monotonic() + lease
    events = service.claim_events(consumer, limit=100, lease=timedelta(seconds=lease))
    pauses = backoff or Backoff(first=0.5, maximum=30.0)
    done: list[int] = []
    try:
        for event in refunds_done(
            events, provider_url, pauses, stop or threading.Event(), deadline
        ):
            done.append(event.id)
    finally:
        if done:
            service.ack_events(consumer, done)
    return len(events)


def main(argv: list[str] | None = None) -> int:
    """Consume until SIGINT or SIGTERM; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("RESERVATION_CORE_URL"))
    parser.add_argument("--provider", required=True, help="the payment provider's base URL")
    parser.add_argument("--consumer", default="refunds")
    parser.add_argument("--lease", type=float, default=30.0, help="seconds (default: 30)")
    parser.add_argument(
        "--retry-first", type=float, default=0.5, help="first pause, seconds (default: 0.5)"
    )
    parser.add_argument(
        "--retry-max", type=float, default=30.0, help="longest pause, seconds (default: 30)"
    )
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give --url or set RESERVATION_CORE_URL")
    # The consumer's own progress and retries at INFO; the library's retries of transient
    # conflicts (two consumers claiming at once) are routine and stay below WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    log.setLevel(logging.INFO)

    stop = threading.Event()

    def asked(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, asked)
    signal.signal(signal.SIGTERM, asked)
    engine = create_engine(args.url, pool_pre_ping=True)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    print("consuming", flush=True)
    backoff = Backoff(args.retry_first, args.retry_max)
    try:
        while not stop.is_set():
            claimed = handle_batch(
                service, args.consumer, args.provider, args.lease, backoff=backoff, stop=stop
            )
            if not claimed:
                stop.wait(IDLE_PAUSE)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
