"""The storm's parts: the writer of 10,000 events, relay processes to kill, the checks."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.adapters.sqlalchemy import event_deliveries, events
from tests.cli.conftest import cli_environment
from tests.relay.brokers import Received

#: What the writer does to each reservation, in turn; each step writes one event.
PATTERNS = [
    ("hold", "confirm", "cancel"),
    ("create", "refund"),
    ("hold", "cancel"),
    ("create", "cancel"),
]
_RETRIED = {ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.CONCURRENCY_CONFLICT}


def plan(total: int) -> list[tuple[str, ...]]:
    """The steps of each reservation, so that they write exactly ``total`` events."""
    planned, left = [], total
    while left:
        steps = PATTERNS[len(planned) % len(PATTERNS)][:left]
        planned.append(steps)
        left -= len(steps)
    return planned


def write(service: ReservationService, schedules: list[str], total: int, threads: int) -> None:
    """Write ``total`` events from ``threads`` threads: each reservation's steps in a row."""
    planned = plan(total)

    def retried(call: Callable[..., Any], *arguments: str) -> Any:
        for _ in range(50):
            try:
                return call(*arguments)
            except BusinessException as error:
                if error.code not in _RETRIED:
                    raise
        raise AssertionError("the database kept failing")

    def work(first: int) -> None:
        for index in range(first, len(planned), threads):
            schedule, user = schedules[index % len(schedules)], f"user-{index}"
            reservation_id = ""
            for step in planned[index]:
                if step in ("hold", "create"):
                    method = getattr(service, f"{step}_reservation")
                    reservation_id = retried(method, schedule, user).id
                else:
                    retried(getattr(service, f"{step}_reservation"), reservation_id)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def written(engine: Engine) -> dict[str, list[int]]:
    """Each reservation's event ids, in the order they were written."""
    found: dict[str, list[int]] = collections.defaultdict(list)
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.id, events.c.reservation_id).order_by(events.c.id)
        )
        for event_id, reservation_id in rows:
            found[reservation_id].append(event_id)
    return dict(found)


def acknowledged(engine: Engine, consumer: str) -> int:
    with engine.connect() as connection:
        query = select(func.count()).where(
            event_deliveries.c.consumer == consumer, event_deliveries.c.acked_at.is_not(None)
        )
        return int(connection.execute(query).scalar_one())


class RelayProcess:
    """``reservation-core relay`` in a subprocess, its log appended to a file."""

    def __init__(self, arguments: list[str], log: Path) -> None:
        self.arguments = arguments
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.exits: list[int] = []

    def start(self) -> None:
        self.log.touch()
        self.started_at = self.log.stat().st_size
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "reservation_core", "relay", *self.arguments],
                env=cli_environment({}),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.starts += 1

    def ensure_running(self) -> None:
        """Start it again if it exited by itself (its broker was down when it started)."""
        if self.process is not None and self.process.poll() is not None:
            self.exits.append(self.process.returncode)
            self.start()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no batch finished, nothing flushed
        self.process.wait()
        self.process = None

    def stop(self) -> int:
        """SIGTERM, as an operator stops it, once it runs; its exit status."""
        assert self.process is not None
        deadline = time.monotonic() + 60
        # Before Python has started and imported the command, SIGTERM is only a kill.
        while "relaying the events" not in self.log.read_text()[self.started_at :]:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            self.process = None

    def abandon(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


@dataclass
class Verdict:
    """What one broker's subscriber got, against what was written."""

    received: int
    distinct: int
    missing: list[str]
    unexpected: list[str]
    id_mismatches: list[str]
    differing_duplicates: list[str]
    out_of_order: list[str]

    @property
    def duplicates(self) -> int:
        return self.received - self.distinct


def judge(got: list[Received], expected: dict[str, list[int]]) -> Verdict:
    """Every event at least once, duplicates identical, each reservation's order kept."""
    bodies: dict[str, dict[str, Any]] = {}
    differing, mismatched = [], []
    order: dict[str, list[int]] = collections.defaultdict(list)
    for item in got:
        event_id = item.body["event_id"]
        if not item.id == item.body["id"] == f"reservation-core:{event_id}":
            mismatched.append(f"{item.id} carries {item.body['id']}")
        first = bodies.setdefault(item.id, item.body)
        if first is item.body:
            order[item.body["reservation_id"]].append(event_id)
        elif first != item.body:
            differing.append(item.id)
    wanted = {f"reservation-core:{i}" for ids in expected.values() for i in ids}
    return Verdict(
        received=len(got),
        distinct=len(bodies),
        missing=sorted(wanted - set(bodies))[:20],
        unexpected=sorted(set(bodies) - wanted)[:20],
        id_mismatches=mismatched[:20],
        differing_duplicates=differing[:20],
        out_of_order=[
            f"{reservation}: {order[reservation]} instead of {ids}"
            for reservation, ids in expected.items()
            if order[reservation] != ids
        ][:20],
    )
