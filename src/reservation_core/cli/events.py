"""``reservation-core events``: print the events a consumer claims, and acknowledge them.

Claims batches of up to ``--limit`` events for ``--consumer`` (oldest first), prints each
batch, then acknowledges it: events are acknowledged only once printed. Without
``--follow`` it stops when nothing is left; with ``--follow`` it keeps polling (every
0.1 s while events flow, at most every second when idle) until interrupted. Ctrl-C (or
SIGTERM) ends it after the batch in hand is printed and acknowledged, with status 0; a
second Ctrl-C stops it at once (status 130), and what it had not acknowledged is claimed
again once its lease runs out.

Each consumer name gets every event once acknowledged: use a name of its own (say
``cli-tail``) to watch without taking events from another consumer.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
from datetime import timedelta
from typing import Any

from reservation_core import ReservationEvent, ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork
from reservation_core.cli._common import open_engine, require_schema, stop_on_signal
from reservation_core.cli._options import Commands, add_command, add_url, positive, seconds

SUMMARY = "print (and acknowledge) the events a consumer claims; --follow to tail them"
#: The pause between two polls of ``--follow``: short while events flow, longer when idle.
_FIRST_PAUSE = 0.1
_LONGEST_PAUSE = 1.0


def add_parser(commands: Commands) -> None:
    """Register ``events``."""
    parser = add_command(commands, "events", run, summary=SUMMARY, description=__doc__)
    add_url(parser, required=True)
    parser.add_argument(
        "--consumer",
        required=True,
        metavar="NAME",
        help="the consumer to claim for (a name of your choosing; each gets every event)",
    )
    parser.add_argument(
        "--follow", action="store_true", help="keep polling for new events until interrupted"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per event, one per line"
    )
    parser.add_argument(
        "--limit",
        type=positive,
        default=100,
        metavar="N",
        help="the most events per claim, 1..10000 (default: 100)",
    )
    parser.add_argument(
        "--lease",
        type=seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long a claimed batch is this process's before it is claimed again (default: 30)",
    )


def event_dict(event: ReservationEvent) -> dict[str, Any]:
    """The JSON form of an event: its fields, ``occurred_at`` in ISO 8601."""
    fields = dataclasses.asdict(event)
    return {**fields, "status": str(event.status), "occurred_at": event.occurred_at.isoformat()}


def event_line(event: ReservationEvent) -> str:
    """One event, for the text output."""
    return (
        f"{event.id} {event.occurred_at.isoformat()} {event.type} "
        f"reservation={event.reservation_id} schedule={event.schedule_id} "
        f"user={event.user_id} quantity={event.quantity} status={event.status}"
    )


def run(args: argparse.Namespace) -> int:
    """Claim, print and acknowledge; 0 once done (or interrupted in ``--follow``)."""
    engine = open_engine(args.url, pool_size=1, must_exist=True)
    try:
        require_schema(engine)
        service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
        with stop_on_signal() as stop:
            _consume(service, args, stop)
    finally:
        engine.dispose()
    return 0


def _consume(service: ReservationService, args: argparse.Namespace, stop: threading.Event) -> None:
    lease = timedelta(seconds=args.lease)
    pause = _FIRST_PAUSE
    while not stop.is_set():
        events = service.claim_events(args.consumer, limit=args.limit, lease=lease)
        for event in events:
            print(json.dumps(event_dict(event)) if args.json else event_line(event))
        sys.stdout.flush()  # printed before acknowledged: a pipe must not hold them back
        if events:
            service.ack_events(args.consumer, [event.id for event in events])
        if len(events) < args.limit and not args.follow:
            return
        pause = _FIRST_PAUSE if events else min(pause * 2, _LONGEST_PAUSE)
        if not events:
            stop.wait(pause)
