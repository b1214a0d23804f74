"""10,000 events relayed to each broker while the relays are SIGKILLed and the brokers restarted.

One writer (four threads) writes the events while three relay processes, one per broker
(``reservation-core relay``, as an operator runs it), publish them to broker instances of
the test's own. At random moments a relay is killed with SIGKILL and started again, and
each broker is killed with SIGKILL once and started again on its data. Then: every event
arrived at least once; every copy of a message carries the same id and the same body;
none is missing; each reservation's events arrived in their order (by first arrival);
and on NATS (the stream's duplicate window) and Redis (the relay's guard), no duplicate
reached the subscriber at all. The storm runs on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import Engine, event

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from reservation_core.relay import message_schema
from tests.databases import make_engine, separate_database_url
from tests.relay.brokers import BROKERS, Instance, received, running
from tests.relay.storm import RelayProcess, acknowledged, judge, write, written

EVENTS = 10_000
SCHEDULES = [f"storm-{n}" for n in range(20)]
#: Relay kills in all (the three relays together), at random moments of the storm.
KILLS = 12
#: The longest the relays may take to catch up once the storm is over.
CATCH_UP_SECONDS = 120


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Instance]]:
    """One instance of each broker, of the storm's own, for both databases' storms."""
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(running(name, tmp_path_factory.mktemp(name)))
            for name in BROKERS
        }


def _unsynchronized_sqlite(engine: Engine) -> None:
    """The writer's commits need not wait for the disk: the relay's durability is tested."""

    @event.listens_for(engine, "connect")
    def unsynchronized(dbapi_connection: Any, record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def storm_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The storm's own database, empty."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'storm.sqlite3'}")
        _unsynchronized_sqlite(engine)
        engine.dispose()  # connections from now on are made by the listener
    else:
        url = separate_database_url("postgresql", "relay_storm")
        engine = make_engine(url, connect_args={"options": "-c synchronous_commit=off"})
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _relay_arguments(engine: Engine, name: str, instance: Instance, tag: str) -> list[str]:
    arguments = [
        "--url", engine.url.render_as_string(hide_password=False), "--to", instance.url,
        "--consumer", f"storm-{name}", "--batch", "200", "--publish-timeout", "3",
        "--progress", "2",
    ]  # fmt: skip
    nats_topic = f"storm_{tag}.{{schedule_id}}.{{type}}"
    where = {
        "nats": ["--stream", f"STORM_{tag}".upper(), "--topic", nats_topic],
        "rabbitmq": ["--exchange", f"storm-{tag}", "--queue", f"storm-{tag}"],
        "redis": ["--topic", f"storm-{tag}"],
    }  # fmt: skip
    return arguments + where[name]


def _where(name: str, tag: str) -> str:
    return f"STORM_{tag}".upper() if name == "nats" else f"storm-{tag}"


def _storm(
    relays: dict[str, RelayProcess],
    instances: dict[str, Instance],
    writer: threading.Thread,
    rng: random.Random,
) -> None:
    """Kill relays at random moments while the writer writes; restart each broker once."""
    restart_at = dict(zip(BROKERS, rng.sample(range(KILLS), len(BROKERS)), strict=True))
    writer.start()
    for relay in relays.values():
        relay.start()
    for kill in range(KILLS):
        time.sleep(rng.uniform(0.3, 1.5))  # a random moment: mid-batch, mid-connect, ...
        victim = relays[rng.choice(BROKERS)]
        victim.kill()
        for name in (name for name, at in restart_at.items() if at == kill):
            instances[name].restart()  # SIGKILL, then started again on its own data
        victim.start()
        for relay in relays.values():
            relay.ensure_running()
    writer.join()


def _caught_up(engine: Engine, relays: dict[str, RelayProcess]) -> None:
    """Wait until every relay has every event acknowledged (restarting one that exited)."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while any(acknowledged(engine, f"storm-{name}") < EVENTS for name in BROKERS):
        assert time.monotonic() < deadline, {
            name: acknowledged(engine, f"storm-{name}") for name in BROKERS
        }
        for relay in relays.values():
            relay.ensure_running()
        time.sleep(0.2)


def test_relays_killed_and_brokers_restarted_lose_nothing_and_keep_order(
    storm_engine: Engine, instances: dict[str, Instance], tmp_path: Path
) -> None:
    seed = random.randrange(2**32)
    print(f"storm seed {seed}")
    tag = storm_engine.dialect.name
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(storm_engine))
    for schedule in SCHEDULES:
        service.create_schedule(schedule, EVENTS)
    relays = {
        name: RelayProcess(
            _relay_arguments(storm_engine, name, instances[name], tag), tmp_path / f"{name}.log"
        )
        for name in BROKERS
    }
    writer = threading.Thread(target=write, args=(service, SCHEDULES, EVENTS, 4))
    try:
        _storm(relays, instances, writer, random.Random(seed))
        _caught_up(storm_engine, relays)
        stopped = {name: relay.stop() for name, relay in relays.items()}
    finally:
        if writer.is_alive():
            writer.join()
        for relay in relays.values():
            relay.abandon()

    logs = {name: relay.log.read_text() for name, relay in relays.items()}
    assert stopped == dict.fromkeys(BROKERS, 0), logs  # SIGTERM: a clean stop
    assert sum(relay.starts for relay in relays.values()) >= len(BROKERS) + KILLS
    expected = written(storm_engine)
    assert sum(len(ids) for ids in expected.values()) == EVENTS
    schema = message_schema()
    for name in BROKERS:
        got = received(name, instances[name].url, _where(name, tag))
        verdict = judge(got, expected)
        print(f"{name}: {verdict.received} received, {verdict.duplicates} duplicates")
        assert verdict.missing == [], name
        assert verdict.unexpected == [], name
        assert verdict.id_mismatches == [], name
        assert verdict.differing_duplicates == [], name
        assert verdict.out_of_order == [], name
        if name in ("nats", "redis"):
            assert verdict.duplicates == 0, name
        for item in got[:: len(got) // 50]:
            jsonschema.validate(item.body, schema)
