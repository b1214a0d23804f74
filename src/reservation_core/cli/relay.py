"""``reservation-core relay``: publish the events to NATS JetStream, RabbitMQ or Redis Streams.

Claims the events as ``--consumer`` (default ``relay``), publishes each batch to the broker
``--to`` names (``nats://``, ``amqp://``, ``redis://``), and acknowledges an event only
once the broker confirmed it: at least once, every send of an event with the same message
id, a reservation's events in their order. Runs until SIGTERM or Ctrl-C: the round of
messages in flight is awaited, what the broker confirmed is acknowledged, the rest is
claimed again by the next run; then it exits 0. A broker or database that goes away is
logged and tried again. Progress and lag are logged on stderr every ``--progress``
seconds and whenever it has caught up. Passwords are never shown.
"""

from __future__ import annotations

import argparse
import logging
import os

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork
from reservation_core.cli._common import open_engine, require_schema, stop_on_signal
from reservation_core.cli._options import Commands, add_command, add_url, positive, seconds
from reservation_core.cli._urls import CliError, remember_secrets, shown
from reservation_core.relay import Relay

SUMMARY = "publish the events to NATS JetStream, RabbitMQ or Redis Streams until stopped"
#: The environment variable ``--to`` falls back to: keeps a password off the command line.
BROKER_VARIABLE = "RESERVATION_CORE_BROKER_URL"
logger = logging.getLogger("reservation_core.relay")


def add_parser(commands: Commands) -> None:
    """Register ``relay``."""
    parser = add_command(commands, "relay", run, summary=SUMMARY, description=__doc__)
    parser.set_defaults(log_level=logging.INFO)
    add_url(parser, required=True)
    fallback = os.environ.get(BROKER_VARIABLE) or None
    parser.add_argument(
        "--to",
        required=fallback is None,
        default=fallback,
        metavar="BROKER_URL",
        help="nats://HOST:4222, amqp://USER:PASSWORD@HOST:5672/VHOST or redis://HOST:6379/0 "
        f"(default: ${BROKER_VARIABLE}; a password is safer there than in the command line)",
    )
    parser.add_argument(
        "--consumer",
        default="relay",
        metavar="NAME",
        help="the consumer to claim as; it gets every event (default: relay)",
    )
    parser.add_argument(
        "--topic",
        metavar="TEMPLATE",
        help="subject (NATS), routing key (RabbitMQ) or stream key (Redis) from {type}, "
        "{schedule_id}, {status} (default: reservation_core.{schedule_id}.{type}; "
        "Redis: reservation_core)",
    )
    parser.add_argument(
        "--source", default="reservation-core", help="the first part of every message id"
    )
    parser.add_argument(
        "--stream", default="RESERVATION_CORE", help="NATS: the JetStream stream, made if missing"
    )
    parser.add_argument(
        "--exchange", default="reservation_core", help="RabbitMQ: the durable topic exchange"
    )
    parser.add_argument(
        "--queue",
        default="reservation_core",
        help="RabbitMQ: a durable queue bound with '#' ('' for none; default: reservation_core)",
    )
    parser.add_argument(
        "--batch", type=positive, default=500, metavar="N", help="events per claim (default: 500)"
    )
    parser.add_argument(
        "--publish-timeout",
        type=seconds,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for the broker's confirmations (default: 10)",
    )
    parser.add_argument(
        "--progress",
        type=seconds,
        default=10.0,
        metavar="SECONDS",
        help="seconds between two progress lines (default: 10)",
    )


def run(args: argparse.Namespace) -> int:
    """Relay until SIGTERM or Ctrl-C; 0 once stopped cleanly."""
    remember_secrets(args.to)
    # Asked to stop while still starting: it starts, then stops at once, with status 0.
    with stop_on_signal() as stop:
        engine = open_engine(args.url, pool_size=1, must_exist=True)
        try:
            require_schema(engine)
            relay = _relay(ReservationService(lambda: SqlAlchemyUnitOfWork(engine)), args)
            logger.setLevel(logging.INFO)
            logger.info("reading the events of %s", shown(engine))
            try:
                relay.connect()
                relay.run(stop)
            finally:
                relay.close()
            logger.info("stopped: %d events relayed", relay.relayed)
        finally:
            engine.dispose()
    return 0


def _relay(service: ReservationService, args: argparse.Namespace) -> Relay:
    try:
        return Relay(
            service,
            args.to,
            consumer=args.consumer,
            topic=args.topic,
            source=args.source,
            stream=args.stream,
            exchange=args.exchange,
            queue=args.queue or None,
            batch_size=args.batch,
            publish_timeout=args.publish_timeout,
            progress_every=args.progress,
        )
    except ImportError as error:
        raise CliError(str(error)) from None
