"""The loop the example consumers share: claim events, call an HTTP service, acknowledge.

An example consumer (``examples.refund_consumer``, ``examples.waitlist_notifier``) says
which event type it acts on and what to POST to its service for one such event
(:class:`Consumer`); :func:`run` is the process around it, the same for each:

- It claims a batch of up to 100 events for its consumer name, POSTs one request per
  event it acts on, and acknowledges the batch; other event types are acknowledged
  without a call. The request's ``Idempotency-Key`` is the event id (``event-7``): a
  process killed after the service acted but before it acknowledged leaves the event to
  be claimed again once its lease runs out, and the service answers the repeat with its
  original answer instead of acting twice. So each event reaches the service exactly
  once in effect, whatever dies when.
- A service that cannot be reached, times out or answers a 5xx, 408 or 429 is asked again
  after a pause that doubles from ``--retry-first`` up to ``--retry-max`` seconds, each
  jittered, each logged as a warning; the events handled before are acknowledged. Once
  the batch's lease would run out during the next pause, the consumer gives the rest of
  the batch back (it is claimed again, by this process or another) and goes on backing
  off. Any other refusal is a bug to fix, not to retry: the consumer stops with it.
- SIGINT or SIGTERM stop it once the batch in hand is done and acknowledged (or, while it
  waits to retry, at once, with what it has done acknowledged).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import FrameType
from typing import Any

from sqlalchemy import create_engine

from reservation_core import ReservationEvent, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork

IDLE_PAUSE = 0.2  # seconds between two claims that found nothing
BATCH = 100  # events claimed at once
log = logging.getLogger("examples.consumers")
#: Service answers that say "not now" rather than "no": worth asking again.
RETRIED_STATUSES = frozenset({408, 429})


@dataclasses.dataclass(frozen=True)
class Consumer:
    """What one example consumer does with an event; :func:`run` is the process around it.

    Attributes:
        name: the consumer name it claims events for, unless ``--consumer`` says otherwise.
        acts_on: the event type it calls its service for; any other event is acknowledged
            without a call.
        service: what it calls, as its log and ``--help`` name it (``"payment provider"``).
        option: the command-line option that gives the service's base URL (``--provider``).
        path: where on the service each request is POSTed (``/refunds``).
        body: the JSON body of the request for an event of type ``acts_on``; ``None`` when
            there is nothing to send for this one (it is acknowledged without a call).
        summary: one line for ``--help``.
    """

    name: str
    acts_on: str
    service: str
    option: str
    path: str
    body: Callable[[ReservationService, ReservationEvent], dict[str, Any] | None]
    summary: str


def post(url: str, body: dict[str, Any], event: ReservationEvent) -> None:
    """POST ``body`` as JSON to ``url``, keyed by ``event``'s id.

    Raises:
        urllib.error.URLError: the service cannot be reached or refused (the event is
            then not acknowledged, and comes back after its lease).
    """
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": f"event-{event.id}"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass  # 201 done now, 200 the repeat of what was done before: both are done


def unavailable(error: Exception) -> bool:
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


def handled(
    consumer: Consumer,
    service: ReservationService,
    events: list[ReservationEvent],
    *,
    service_url: str,
    backoff: Backoff,
    stop: threading.Event,
    deadline: float,
) -> Iterator[ReservationEvent]:
    """``events`` as each is handled: sent to the service, or needing no call.

    Stops early on ``stop``, or when the next pause would end past ``deadline`` (the
    batch's lease: the events left are then claimed again, after that pause).
    """
    for position, event in enumerate(events):
        body = consumer.body(service, event) if event.type == consumer.acts_on else None
        while body is not None:
            try:
                post(f"{service_url}{consumer.path}", body, event)
            except Exception as error:
                if not unavailable(error):
                    raise
                pause = backoff.pause()
                if time.monotonic() + pause >= deadline:
                    log.warning(
                        "%s unavailable (%s): the lease runs out, the %d events left are "
                        "claimed again in %.1f s",
                        consumer.service,
                        error,
                        len(events) - position,
                        pause,
                    )
                    stop.wait(pause)
                    return
                log.warning(
                    "%s unavailable (%s): retrying event %d in %.1f s",
                    consumer.service,
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
    consumer: Consumer,
    service: ReservationService,
    *,
    name: str,
    service_url: str,
    lease: float,
    backoff: Backoff,
    stop: threading.Event,
) -> int:
    """Claim one batch for the consumer ``name``, handle it, acknowledge it; its size.

    What was handled is acknowledged even if the rest is not (the service is down, or
    the consumer was asked to stop).
    """
    deadline = time.monotonic() + lease
    events = service.claim_events(name, limit=BATCH, lease=timedelta(seconds=lease))
    done: list[int] = []
    try:
        for event in handled(
            consumer,
            service,
            events,
            service_url=service_url,
            backoff=backoff,
            stop=stop,
            deadline=deadline,
        ):
            done.append(event.id)
    finally:
        if done:
            service.ack_events(name, done)
    return len(events)


def run(consumer: Consumer, argv: list[str] | None = None) -> int:
    """Consume until SIGINT or SIGTERM; returns the exit status."""
    parser = argparse.ArgumentParser(description=consumer.summary)
    parser.add_argument("--url", default=os.environ.get("RESERVATION_CORE_URL"))
    parser.add_argument(
        consumer.option,
        dest="service_url",
        metavar="URL",
        required=True,
        help=f"the {consumer.service}'s base URL",
    )
    parser.add_argument(
        "--consumer", default=consumer.name, help=f"its name (default: {consumer.name})"
    )
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
    # The consumers' own progress and retries at INFO; the library's retries of transient
    # conflicts (two consumers claiming at once) are routine and stay below WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("examples").setLevel(logging.INFO)

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
                consumer,
                service,
                name=args.consumer,
                service_url=args.service_url,
                lease=args.lease,
                backoff=backoff,
                stop=stop,
            )
            if not claimed:
                stop.wait(IDLE_PAUSE)
    finally:
        engine.dispose()
    return 0
