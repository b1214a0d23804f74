"""Several application processes racing on one database: 4 processes x 25 threads.

Each process is a host of its own: its own engines (one per database node, each with its
own bounded pool) and its own ``ReservationService`` per engine, with the library's
default retry budget and admission. Client ``c`` (process ``p``, thread ``t``, ``c = p *
threads + t``) uses node ``c % len(urls)``, so clients are spread over every node. The
threads of all processes wait on one ``multiprocessing`` barrier and are released
together for each round; no sleeps anywhere.

Every call reports its outcome and how many units of work it took (one per attempt), so
rounds can assert that nothing gave up and show how many retries the conflicts cost.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import queue
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from reservation_core import BusinessException, ReservationService

PROCESSES = 4
THREADS = 25
#: Refusals a storm may meet: the answers of the contract, never a give-up or an outage.
STORM_ANSWERS = {
    "ok",
    "CAPACITY_EXCEEDED",
    "CAPACITY_BELOW_RESERVED",
    "DUPLICATE_RESERVATION",
    "IDEMPOTENCY_KEY_REUSED",
    "RESERVATION_ALREADY_CANCELLED",
    "ALREADY_REFUNDED",
    "INVALID_STATE_TRANSITION",
}
_TIMEOUT = 240.0


@dataclasses.dataclass(frozen=True)
class Call:
    """One service call: ``"ok"`` or the error code, the attempts, the reservation made."""

    outcome: str
    attempts: int
    reservation_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Round:
    """Every call of one round, from every process."""

    calls: list[Call]

    @property
    def outcomes(self) -> Counter[str]:
        return Counter(call.outcome for call in self.calls)

    @property
    def give_ups(self) -> int:
        return self.outcomes["CONCURRENCY_CONFLICT"]

    @property
    def retries(self) -> int:
        return sum(call.attempts - 1 for call in self.calls)

    @property
    def max_attempts(self) -> int:
        return max(call.attempts for call in self.calls)


# -- what each client does, by command ---------------------------------------------------

Operation = Callable[[ReservationService], Any]


def _book(client: int, schedule_id: str) -> list[Operation]:
    return [lambda service: service.create_reservation(schedule_id, f"user-{client}")]


def _storm(client: int, plan: dict[str, Any]) -> list[Operation]:
    """A few mixed operations: bookings (some by the same users, some with keys), cancels
    and refunds of seeded and of just-made reservations, capacity changes, reads."""
    rng = random.Random(plan["seed"] * 100_003 + client)
    schedules: list[str] = plan["schedules"]
    seeded: list[str] = plan["seeded"]
    made: list[str] = []

    def create(service: ReservationService, sid: str, k: int) -> Any:
        reservation = service.create_reservation(sid, f"u{client % 12}", quantity=1 + k % 3)
        made.append(reservation.id)
        return reservation

    def release(service: ReservationService, method: str, pick: str) -> Any:
        target = made.pop() if made and pick == "mine" else rng.choice(seeded)
        return getattr(service, method)(target)

    operations: list[Operation] = []
    for k in range(plan["operations"]):
        sid = rng.choice(schedules)
        kind = rng.choice(["create", "create", "key", "cancel", "refund", "capacity", "read"])
        if kind == "create":
            operations.append(lambda s, sid=sid, k=k: create(s, sid, k))
        elif kind == "key":
            key = f"key-{client % 4}"
            operations.append(
                lambda s, sid=sid, key=key: s.create_reservation(
                    sid, f"k{client % 5}", idempotency_key=key
                )
            )
        elif kind in ("cancel", "refund"):
            method, pick = f"{kind}_reservation", rng.choice(["mine", "seeded"])
            operations.append(lambda s, m=method, p=pick: release(s, m, p))
        elif kind == "capacity":
            capacity = 4 + rng.randrange(10)
            operations.append(lambda s, sid=sid, c=capacity: s.change_capacity(sid, c))
        else:
            target = rng.choice(seeded)
            operations.append(lambda s, t=target: s.get_reservation(t))
    return operations


def _churn(client: int, plan: dict[str, Any]) -> list[Operation]:
    """Book a seat, then cancel or refund it, over and over: every call commits.

    Many commits per pooled connection: psycopg prepares a statement after five runs on
    one connection (a rollback forgets the count), so this is the load that finds
    prepared statements gone astray behind a transaction pooler.
    """
    schedules: list[str] = plan["schedules"]
    made: list[str] = []

    def book(service: ReservationService, k: int) -> Any:
        sid = schedules[(client + k) % len(schedules)]
        reservation = service.create_reservation(sid, f"churn-{client}-{k}")
        made.append(reservation.id)
        return reservation

    def release(service: ReservationService, k: int) -> Any:
        if not made:  # the booking before failed: that failure is the outcome to see
            return None
        method = service.cancel_reservation if k % 4 else service.refund_reservation
        return method(made.pop())

    return [
        (lambda s, k=k: book(s, k)) if k % 2 == 0 else (lambda s, k=k: release(s, k))
        for k in range(plan["operations"])
    ]


_PLANS: dict[str, Callable[[int, Any], list[Operation]]] = {
    "book": _book,
    "storm": _storm,
    "churn": _churn,
}


# -- one application process --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What a host process is given (pickled to it)."""

    index: int
    urls: list[str]
    threads: int
    engine_options: dict[str, Any]
    service_options: dict[str, Any]


@dataclasses.dataclass
class _Host:
    """A host process's services (one per node), its threads' attempt counter, the barrier."""

    setup: _Setup
    services: list[ReservationService]
    attempts: threading.local
    barrier: Any


def _serve(setup: _Setup, barrier: Any, inbox: Any, outbox: Any) -> None:
    """A host process: engines and services of its own, one round per command."""
    from sqlalchemy import create_engine

    from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork

    attempts = threading.local()

    def counting(engine: Any) -> Callable[[], SqlAlchemyUnitOfWork]:
        def make() -> SqlAlchemyUnitOfWork:
            attempts.count += 1
            return SqlAlchemyUnitOfWork(engine)

        return make

    per_node = math.ceil(setup.threads / len(setup.urls))
    engines = [
        create_engine(
            url, pool_size=per_node, max_overflow=0, pool_timeout=120, **setup.engine_options
        )
        for url in setup.urls
    ]
    services = [ReservationService(counting(e), **setup.service_options) for e in engines]
    host = _Host(setup, services, attempts, barrier)
    outbox.put((setup.index, "ready", None))
    try:
        while (command := inbox.get()) is not None:
            try:
                outbox.put((setup.index, "done", _round(host, *command)))
            except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
                outbox.put((setup.index, "error", traceback.format_exc()))
    finally:
        for engine in engines:
            engine.dispose()


def _round(host: _Host, name: str, argument: Any) -> list[Call]:
    threads, attempts = host.setup.threads, host.attempts
    results: list[list[Call]] = [[] for _ in range(threads)]

    def client(thread: int) -> None:
        number = host.setup.index * threads + thread
        service = host.services[number % len(host.services)]
        operations = _PLANS[name](number, argument)
        host.barrier.wait(timeout=_TIMEOUT)
        for operation in operations:
            attempts.count = 0
            try:
                value = operation(service)
            except BusinessException as error:
                results[thread].append(Call(str(error.code), attempts.count))
            except BaseException as error:  # noqa: BLE001 - a leak: reported as an outcome
                results[thread].append(Call(f"leaked {type(error).__name__}: {error}", 0))
            else:
                results[thread].append(Call("ok", attempts.count, getattr(value, "id", None)))

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [call for calls in results for call in calls]


# -- the parent's handle ------------------------------------------------------------------


class Fleet:
    """``processes`` host processes of ``threads`` threads each, on the nodes at ``urls``.

    ``engine_options`` go to ``create_engine`` (after the pool's size), ``service_options``
    to ``ReservationService`` (the library's defaults otherwise).
    """

    def __init__(
        self,
        urls: Sequence[str],
        engine_options: dict[str, Any] | None = None,
        *,
        service_options: dict[str, Any] | None = None,
        processes: int = PROCESSES,
        threads: int = THREADS,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._outbox = context.Queue()
        self._inboxes = [context.Queue() for _ in range(processes)]
        # Kept: the children unpickle the barrier's semaphores when they start.
        self._barrier = barrier = context.Barrier(processes * threads)
        self._processes = [
            context.Process(
                target=_serve,
                args=(
                    _Setup(i, list(urls), threads, engine_options or {}, service_options or {}),
                    barrier,
                    inbox,
                    self._outbox,
                ),
                daemon=True,
            )
            for i, inbox in enumerate(self._inboxes)
        ]

    def __enter__(self) -> Fleet:
        for process in self._processes:
            process.start()
        self._collect("ready")
        return self

    def __exit__(self, *exc_info: object) -> None:
        for inbox in self._inboxes:
            inbox.put(None)
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():  # pragma: no cover - only after a failure
                process.terminate()
                process.join()

    def book(self, schedule_id: str) -> Round:
        """Every client books one seat of ``schedule_id`` for a user of its own."""
        return self._run("book", schedule_id)

    def storm(self, schedules: list[str], seeded: list[str], seed: int, operations: int) -> Round:
        """Every client runs ``operations`` mixed calls on ``schedules`` and ``seeded``."""
        plan = {"schedules": schedules, "seeded": seeded, "seed": seed, "operations": operations}
        return self._run("storm", plan)

    def churn(self, schedules: list[str], operations: int) -> Round:
        """Every client books and releases seats of ``schedules``, ``operations`` calls."""
        return self._run("churn", {"schedules": schedules, "operations": operations})

    def _run(self, name: str, argument: Any) -> Round:
        for inbox in self._inboxes:
            inbox.put((name, argument))
        replies = self._collect("done")
        return Round([call for calls in replies for call in calls])

    def _collect(self, expected: str) -> list[Any]:
        replies: list[Any] = []
        failures: list[str] = []
        deadline = time.monotonic() + _TIMEOUT
        while len(replies) + len(failures) < len(self._processes):
            try:
                _index, kind, payload = self._outbox.get(timeout=1)
            except queue.Empty:
                dead = [p.exitcode for p in self._processes if not p.is_alive()]
                assert not dead, f"a host process died: exit codes {dead}"
                assert time.monotonic() < deadline, f"no answer in {_TIMEOUT} s"
                continue
            if kind == "error":
                failures.append(payload)
            else:
                assert kind == expected, kind
                replies.append(payload)
        assert not failures, "\n".join(failures)
        return replies
