"""The relay from Python, against the machine's brokers: format, ids, re-sends, refusals."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from reservation_core import (
    AsyncReservationService,
    BusinessException,
    ErrorCode,
    ReservationEvent,
    ReservationService,
)
from reservation_core.adapters.sqlalchemy import AsyncSqlAlchemyUnitOfWork
from reservation_core.relay import (
    MESSAGE_VERSION,
    AsyncRelay,
    Relay,
    RelayError,
    message,
    message_id,
    message_schema,
)
from tests.cli.conftest import cli_environment
from tests.relay.brokers import Received, received, run_async
from tests.relay.conftest import Place

#: A schedule id with every character a subject or routing key reserves.
ODD_SCHEDULE = "yoga mon.*>#%"


def _history(service: ReservationService) -> list[ReservationEvent]:
    """Bookings, a hold confirmed then cancelled, a refund: the events, as a consumer sees them."""
    service.create_schedule(ODD_SCHEDULE, 10)
    service.create_schedule("plain", 10)
    service.create_reservation(ODD_SCHEDULE, "ann")
    hold = service.hold_reservation("plain", "bob")
    service.confirm_reservation(hold.id)
    service.cancel_reservation(hold.id)
    booked = service.create_reservation("plain", "cy", quantity=2)
    service.refund_reservation(booked.id)
    return service.claim_events("the-test-reads", limit=100)


def _by_reservation(got: list[Received]) -> dict[str, list[int]]:
    """The event ids each reservation's messages carried, in the order they arrived."""
    seen: dict[str, list[int]] = {}
    for item in got:
        seen.setdefault(item.body["reservation_id"], []).append(item.body["event_id"])
    return seen


def _by_reservation_expected(events: list[ReservationEvent]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for event in events:
        seen.setdefault(event.reservation_id, []).append(event.id)
    return seen


def test_each_event_arrives_once_as_the_documented_message(
    service: ReservationService, shared: Place
) -> None:
    events = _history(service)
    with Relay(service, shared.url, **shared.options) as relay:
        assert relay.relay_pending() == len(events) == 6
        assert relay.relay_pending() == 0  # acknowledged: never sent again
        assert relay.relayed == 6

    got = received(shared.broker, shared.url, shared.where)
    assert _by_reservation(got) == _by_reservation_expected(events)
    assert sorted((item.id, item.body) for item in got) == sorted(
        (message_id(event), message(event)) for event in events
    )
    assert {item.id for item in got} == {f"reservation-core:{event.id}" for event in events}
    schema = message_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for item in got:
        jsonschema.validate(item.body, schema, format_checker=jsonschema.FormatChecker())
        assert item.body["version"] == MESSAGE_VERSION == 1
    # A subject or routing key token per part: the schedule id's reserved characters escaped.
    template = shared.options.get("topic", "reservation_core.{schedule_id}.{type}")
    escaped = "yoga%20mon%2E%2A%3E%23%25"
    topics = {item.body["event_id"]: item.topic for item in got}
    first, last = events[0].id, events[-1].id
    assert topics[first] == template.format(schedule_id=escaped, type="reservation.confirmed")
    assert topics[last] == template.format(schedule_id="plain", type="reservation.refunded")


def test_a_resend_carries_the_same_id_and_the_duplicate_window_drops_it(
    service: ReservationService, shared: Place
) -> None:
    """A second consumer sends every event again, as a relay that lost its acks would."""
    events = _history(service)
    with Relay(service, shared.url, consumer="first", **shared.options) as relay:
        relay.relay_pending()
    with Relay(service, shared.url, consumer="again", **shared.options) as relay:
        assert relay.relay_pending() == len(events)  # confirmed: as stored, or as a duplicate

    got = received(shared.broker, shared.url, shared.where)
    expected = sorted((message_id(event), message(event)) for event in events)
    if shared.broker == "rabbitmq":  # no duplicate window: each twice, with the same id
        assert sorted((item.id, item.body) for item in got) == sorted(expected + expected)
        assert _by_reservation(got[: len(events)]) == _by_reservation_expected(events)
    else:  # JetStream's window and the Redis guard: a subscriber sees each once
        assert sorted((item.id, item.body) for item in got) == expected
        assert _by_reservation(got) == _by_reservation_expected(events)


def test_a_message_no_queue_takes_is_not_acknowledged(
    service: ReservationService, shared_rabbitmq: Place
) -> None:
    """RabbitMQ confirms a message no queue took; the relay publishes ``mandatory``."""
    shared = shared_rabbitmq
    events = _history(service)
    unbound = {**shared.options, "queue": None}
    with Relay(service, shared.url, **unbound) as relay, pytest.raises(RelayError) as refused:
        relay.relay_pending()
    assert f"did not confirm event {events[0].id}" in str(refused.value)
    assert "guest" not in str(refused.value)

    with Relay(service, shared.url, **shared.options) as relay:
        assert relay.relay_pending() == len(events)  # nothing was acknowledged
    got = received(shared.broker, shared.url, shared.where)
    assert _by_reservation(got) == _by_reservation_expected(events)


def test_the_async_relay_runs_until_stopped(
    service: ReservationService, shared: Place, tmp_path: Path
) -> None:
    events = _history(service)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.sqlite3'}")
    async_service = AsyncReservationService(lambda: AsyncSqlAlchemyUnitOfWork(engine))

    async def relay_then_stop() -> int:
        stop = asyncio.Event()
        async with AsyncRelay(async_service, shared.url, **shared.options) as relay:
            running = asyncio.create_task(relay.run(stop))
            for _ in range(200):  # at most 10 s
                if relay.relayed == len(events):
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(running, 10)
            return relay.relayed

    try:
        assert run_async(relay_then_stop()) == len(events)
    finally:
        run_async(engine.dispose())
    got = received(shared.broker, shared.url, shared.where)
    assert _by_reservation(got) == _by_reservation_expected(events)


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("nats://127.0.0.1:4222", "nats"),
        ("amqp://127.0.0.1/", "rabbitmq"),
        ("redis://h/0", "redis"),
    ],
)
def test_a_missing_client_names_the_extra_that_installs_it(url: str, extra: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        for name in ("nats", "aio_pika", "redis"):
            sys.modules[name] = None  # as if not installed
        from reservation_core import ReservationService
        from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
        from reservation_core.relay import Relay
        store = InMemoryStore()
        try:
            Relay(ReservationService(lambda: InMemoryUnitOfWork(store)), {url!r})
        except ImportError as error:
            print(error)
        """
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script],
        env=cli_environment({}),
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"pip install 'reservation-core[{extra}]'" in result.stdout, result


def test_bad_arguments_are_validation_errors_naming_the_field(service: ReservationService) -> None:
    cases = [
        ({"broker_url": "kafka://user:pa55word@host/"}, "broker_url"),
        ({"topic": "events.{reservation}"}, "topic"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"publish_timeout": -1}, "publish_timeout"),
        ({"source": ""}, "source"),
    ]
    for change, field in cases:
        arguments = {"broker_url": "nats://127.0.0.1:4222", **change}
        with pytest.raises(BusinessException) as refused:
            Relay(service, **arguments)
        assert refused.value.code is ErrorCode.VALIDATION_ERROR
        assert refused.value.details["field"] == field
        assert "pa55word" not in str(refused.value.to_dict())
    with pytest.raises(BusinessException) as refused:
        Relay(AsyncReservationService(lambda: None), "nats://127.0.0.1:4222")  # type: ignore[arg-type, return-value]
    assert refused.value.details["field"] == "service"
