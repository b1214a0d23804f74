"""Hot-schedule throughput: reservation_core against a raw-driver baseline and an ORM peer.

Usage::

    python benchmarks/hot_schedule.py --url URL --clients 1,16,64 --seconds 10 [--json]
    python benchmarks/hot_schedule.py --url NODE1,NODE2,NODE3 ...     # a Galera cluster
    python benchmarks/hot_schedule.py --url PGBOUNCER_URL --pgbouncer ...
    python benchmarks/hot_schedule.py --url PG_URL --contenders library,pgbench,pgbench@best
    python benchmarks/hot_schedule.py --url URL --processes 4 --clients 16   # 4 x 4 threads

Every contender books one seat per request, each request for a distinct user, on one
schedule (``hot``) or on one of many (``spread``), from ``clients`` threads of this
process for ``seconds``. Contenders run interleaved (A B C A B C ...) for ``--rounds``
rounds and the median round is reported, so drift of a noisy machine hits all alike.

Contenders:

* ``library`` -- ``ReservationService.create_reservation`` over ``SqlAlchemyUnitOfWork``.
* ``raw`` -- the driver by hand, one connection per client: conditional ``UPDATE``,
  ``INSERT``, ``COMMIT`` (psycopg, PyMySQL, or sqlite3 with ``BEGIN IMMEDIATE``).
* ``orm`` -- a SQLAlchemy ORM session: ``SELECT ... FOR UPDATE``, mutate, flush, commit.
* ``library-async`` -- ``AsyncReservationService`` over ``AsyncSqlAlchemyUnitOfWork``:
  ``clients`` tasks on one event loop instead of threads, the URL's database through its
  asyncio driver (asyncpg, aiomysql, aiosqlite); see async_contender.py. Not in the
  default set; compare it with ``library``.
* ``joined`` -- the library inside the host's own transaction: ``engine.begin()``, the
  booking through ``SqlAlchemyUnitOfWork(connection)`` (a savepoint), one host ``INSERT``
  into ``bench_orders``, ``COMMIT``. Not in the default set; compare it with ``raw``.
* ``pgbench`` -- PostgreSQL only, hot workload: the library's single-statement booking
  run by ``pgbench`` (C, no Python: the physical limit of the hot row) at the same
  concurrency; ``pgbench@best`` at the best of ``--pgbench-sweep`` client counts. pgbench
  is its own process: ``cpu_us`` is its CPU (children's rusage). See ``_pgbench.py``.

``--workload order`` books orders (``create_order`` against the same order by hand) and
the contender ``pooled`` books schedules that count against a pool: see _orders.py.
``--workload cancel`` and ``cancel-waitlist`` cancel reservations instead, on a schedule
without and with a waiting list: see _cancels.py.

``--baseline DIR`` adds the contender ``baseline``: the library of another checkout
(say ``git worktree add /tmp/base HEAD~1``), imported from ``DIR/src`` in a process of
its own, interleaved with the others; ``library`` then runs in a process of its own too,
so that the two meet the same conditions. The summary reports ``library_vs_baseline``.
The two must share the database schema.

``--processes N`` runs each client count as N processes (``spawn``) of about
``clients / N`` threads each, started together and aggregated: ``clients`` stays the
total. Each process has its own engine and service (so its own admission gate).

Every run starts on empty tables (``--keep-tables``: they grow through the whole
benchmark instead, so that later runs may meet a buffer pool too small for them). After
each run the invariant ``reserved == sum(quantity of CONFIRMED)`` is checked on every
schedule the run used. ``cpu_us`` is this process's CPU time per reservation.

Several comma-separated URLs are the nodes of one cluster (MariaDB Galera): client ``i``
uses node ``i % len(urls)``, through an engine (and, for the library, a service) per node.
``--pgbouncer`` is for a URL through PgBouncer in transaction pooling mode: the engines
get ``recommended_engine_options(url, pgbouncer=True)`` and the raw clients psycopg's
``prepare_threshold=None``, without which their prepared statements go astray.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import multiprocessing
import os
import random
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, registry

# The library under test: this tree's, or in a ``--baseline`` process the baseline's.
sys.path.insert(
    0, os.environ.get("HOT_SCHEDULE_SRC") or str(Path(__file__).resolve().parents[1] / "src")
)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cancels import (
    CANCEL_WORKLOADS,
    cancel_picker,
    check_cancels,
    library_cancel_contender,
    stock,
)
from _orders import (
    check_orders,
    check_pools,
    library_order_contender,
    order_picker,
    pooled_schedules,
    raw_order_book,
)
from _pgbench import run_pgbench
from async_contender import drive_async  # after the path: it imports reservation_core

import reservation_core
from reservation_core import BusinessException, ReservationService
from reservation_core.adapters.sqlalchemy import (
    SqlAlchemyUnitOfWork,
    metadata,
    recommended_engine_options,
    reservations,
    schedules,
)

CAPACITY = 2**31 - 1
_BASELINE_SRC = "HOT_SCHEDULE_SRC"  # set for a --baseline process: its source tree
CONTENDERS = ("library", "raw", "orm")
#: The ratios the summary reports, when both contenders ran.
PAIRS = (
    ("library", "raw"),
    ("library", "baseline"),
    ("library", "orm"),
    ("joined", "raw"),
    ("library", "pgbench"),
    ("library", "pgbench@best"),
    ("raw", "pgbench"),
    ("library-async", "library"),
    ("library-async", "raw"),
    ("pooled", "library"),
)

# -- the ORM peer's mapping --------------------------------------------------------------


class OrmSchedule:
    id: str
    capacity: int
    reserved: int


class OrmReservation:
    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)


_mapper_registry = registry()
_mapper_registry.map_imperatively(OrmSchedule, schedules)
_mapper_registry.map_imperatively(
    OrmReservation, reservations, exclude_properties=["active_user_id"]
)


# -- one booking per contender ------------------------------------------------------------

#: Books what the picker picked (a schedule's id; an order: its schedules' ids) for a user.
Book = Callable[[Any, str], bool]
#: Makes client number ``i``'s booking function.
MakeClient = Callable[[int], Book]


def _now() -> datetime:
    return datetime.now(UTC)


def library_contender(engines: list[Engine], options: dict[str, Any]) -> MakeClient:
    services = _services(engines, options)

    def client(index: int) -> Book:
        service = services[index % len(services)]

        def book(schedule_id: str, user_id: str) -> bool:
            try:
                service.create_reservation(schedule_id, user_id)
            except BusinessException:
                return False
            return True

        return book

    return client


host_metadata = MetaData()
bench_orders = Table(
    "bench_orders",
    host_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reservation_id", String(36), nullable=False),
)
_ORDER = insert(bench_orders)


def joined_contender(engines: list[Engine], options: dict[str, Any]) -> MakeClient:
    """A booking and a host ``INSERT``, committed together in the host's transaction."""

    def client(index: int) -> Book:
        engine = engines[index % len(engines)]

        def book(schedule_id: str, user_id: str) -> bool:
            while True:
                try:
                    with engine.begin() as connection:
                        service = ReservationService(
                            lambda: SqlAlchemyUnitOfWork(connection), **options
                        )
                        booking = service.create_reservation(schedule_id, user_id)
                        connection.execute(_ORDER, {"reservation_id": booking.id})
                except BusinessException as error:
                    if error.details.get("retryable"):
                        continue  # what the docs tell a host: run the transaction again
                    return False
                return True

        return book

    return client


def orm_contender(engines: list[Engine]) -> MakeClient:
    def client(index: int) -> Book:
        engine = engines[index % len(engines)]

        def book(schedule_id: str, user_id: str) -> bool:
            with Session(engine) as session, session.begin():
                schedule = session.execute(
                    select(OrmSchedule).where(OrmSchedule.id == schedule_id).with_for_update()  # type: ignore[arg-type]
                ).scalar_one()
                if schedule.reserved + 1 > schedule.capacity:
                    return False
                schedule.reserved += 1
                now = _now()
                session.add(
                    OrmReservation(
                        id=str(uuid.uuid4()),
                        schedule_id=schedule_id,
                        user_id=user_id,
                        quantity=1,
                        status="CONFIRMED",
                        created_at=now,
                        updated_at=now,
                    )
                )
            return True

        return book

    return client


_RAW_TAKE = (
    "UPDATE rc_schedules SET reserved = reserved + {p} "
    "WHERE id = {p} AND reserved <= capacity - {p}"
)
_RAW_INSERT = (
    "INSERT INTO rc_reservations "
    "(id, schedule_id, user_id, quantity, status, created_at, updated_at) "
    "VALUES ({p}, {p}, {p}, {p}, 'CONFIRMED', {p}, {p})"
)


def raw_contender(
    urls: list[URL], pgbouncer: bool, workload: str = "hot"
) -> tuple[MakeClient, Callable[[], None]]:
    """A per-client driver connection; returns (client factory, close all)."""
    opened: list[Any] = []
    lock = threading.Lock()
    backend = urls[0].get_backend_name()
    placeholder = "?" if backend == "sqlite" else "%s"
    take = _RAW_TAKE.format(p=placeholder)
    insert = _RAW_INSERT.format(p=placeholder)

    def connect(url: URL) -> Any:
        if backend == "postgresql":
            import psycopg  # noqa: PLC0415 - only the database under test needs its driver

            return psycopg.connect(
                host=url.host,
                port=url.port or 5432,
                user=url.username,
                password=url.password,
                dbname=url.database,
                prepare_threshold=None if pgbouncer else 5,
            )
        if backend in ("mysql", "mariadb"):
            import pymysql  # noqa: PLC0415

            return pymysql.connect(
                host=url.host,
                port=url.port or 3306,
                user=url.username,
                password=url.password or "",
                database=url.database,
                charset="utf8mb4",
            )
        connection = sqlite3.connect(url.database or "", isolation_level=None, timeout=30)
        connection.execute("PRAGMA busy_timeout = 30000")
        return connection

    naive = backend != "postgresql"  # MySQL and SQLite store naive UTC

    def client(index: int) -> Book:
        connection = connect(urls[index % len(urls)])
        with lock:
            opened.append(connection)
        if workload == "order":
            return raw_order_book(connection, backend)
        cursor = connection.cursor()

        def book(schedule_id: str, user_id: str) -> bool:
            now = _now()
            if naive:
                now = now.replace(tzinfo=None)
            if backend == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(take, (1, schedule_id, 1))
            if cursor.rowcount != 1:
                connection.rollback()
                return False
            cursor.execute(insert, (str(uuid.uuid4()), schedule_id, user_id, 1, now, now))
            if backend == "sqlite":
                cursor.execute("COMMIT")
            else:
                connection.commit()
            return True

        return book

    def close_all() -> None:
        for connection in opened:
            with contextlib.suppress(Exception):
                connection.close()
        opened.clear()

    return client, close_all


# -- running ------------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    contender: str
    clients: int
    reservations: int
    failures: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]

    @property
    def tps(self) -> float:
        return self.reservations / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / max(self.reservations, 1) * 1e6


@dataclasses.dataclass
class _Tally:
    """What one process's client threads did."""

    reservations: int
    failures: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]


def _client_threads(
    name: str,
    make_client: MakeClient,
    clients: int,
    first: int,
    pick: Callable[[], Any],
    go: Callable[[], object],
    until: Callable[[], object],
) -> _Tally:
    """Run clients ``first`` .. ``first + clients - 1`` as threads, warmed up, from ``go``
    (it returns when every process is ready) until ``until`` returns."""
    users = itertools.count()
    ready = threading.Barrier(clients + 1)
    stop = threading.Event()
    counts = [0] * clients
    failures = [0] * clients
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def worker(slot: int) -> None:
        index = first + slot
        try:
            book = make_client(index)
            with contextlib.suppress(Exception):  # a conflict (Galera's 1213) warms up too
                book(pick(), f"warmup-{name}-{uuid.uuid4()}")
        except BaseException as exc:
            errors.append(exc)
            ready.abort()
            raise
        ready.wait()
        mine = latencies[slot]
        clock = time.perf_counter
        while not stop.is_set():
            user = f"u{next(users)}-{index}"
            started = clock()
            try:
                ok = book(pick(), user)
            except Exception:  # noqa: BLE001 - raw/ORM peers do not retry (Galera's 1213)
                ok = False
            mine.append(clock() - started)
            if ok:
                counts[slot] += 1
            else:
                failures[slot] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        go()
        ready.wait()
    except threading.BrokenBarrierError:
        ready.abort()
        raise RuntimeError(f"{name}: a client failed to start: {errors[:1]}") from None
    cpu_started, started = time.process_time(), time.perf_counter()
    until()
    stop.set()
    for thread in threads:
        thread.join()
    return _Tally(
        sum(counts),
        sum(failures),
        time.perf_counter() - started,
        time.process_time() - cpu_started,
        [x for per_client in latencies for x in per_client],
    )


def drive(
    name: str,
    make_client: MakeClient,
    clients: int,
    seconds: float,
    pick: Callable[[], Any],
) -> Run:
    """Run ``clients`` threads of this process booking for ``seconds``."""
    tally = _client_threads(
        name, make_client, clients, 0, pick, lambda: None, lambda: time.sleep(seconds)
    )
    return Run(
        name,
        clients,
        tally.reservations,
        tally.failures,
        tally.seconds,
        tally.cpu_seconds,
        tally.latencies,
    )


@dataclasses.dataclass(frozen=True)
class _ProcessSpec:
    """What a worker process needs to run its share of the clients (picklable)."""

    name: str
    urls: list[str]
    clients: int
    first: int
    ids: list[str]
    options: dict[str, Any]
    pgbouncer: bool
    src: str | None = None  # the library's source tree, if not this one's
    workload: str = "hot"
    order_lines: int = 3


def _process_worker(spec: _ProcessSpec, go: Any, stop: Any, results: Any) -> None:
    """One process of ``--processes``: its threads, reported on ``results``."""
    try:
        if spec.src is not None and not reservation_core.__file__.startswith(spec.src):
            raise RuntimeError(f"the baseline was not imported from {spec.src}")
        urls = [make_url(url) for url in spec.urls]
        pick = picker(spec.ids, spec.workload, spec.order_lines)
        with contender(
            spec.name, urls, spec.clients, spec.options, spec.pgbouncer, spec.workload
        ) as client:
            tally = _client_threads(
                spec.name, client, spec.clients, spec.first, pick, go.wait, stop.wait
            )
        results.put(tally)
    except BaseException as exc:
        go.abort()
        results.put(f"{type(exc).__name__}: {exc}")
        raise


def drive_processes(
    name: str,
    urls: list[URL],
    processes: int,
    clients: int,
    seconds: float,
    ids: list[str],
    options: dict[str, Any],
    pgbouncer: bool,
    src: str | None = None,
    workload: str = "hot",
    order_lines: int = 3,
) -> Run:
    """``clients`` spread over ``processes`` processes of threads, started together.

    ``src``: the processes import the library from that source tree (``--baseline``).
    """
    context = multiprocessing.get_context("spawn")
    go, stop, results = context.Barrier(processes + 1), context.Event(), context.Queue()
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    texts = [url.render_as_string(hide_password=False) for url in urls]
    workers = []
    first = 0
    for number, share in enumerate(shares):
        # A cancel's target is cancelled once: each process gets its own share of the stock.
        mine = ids[number::processes] if workload in CANCEL_WORKLOADS else ids
        spec = _ProcessSpec(
            "library" if src else name,
            texts,
            share,
            first,
            mine,
            options,
            pgbouncer,
            src,
            workload,
            order_lines,
        )
        first += share
        workers.append(context.Process(target=_process_worker, args=(spec, go, stop, results)))
    for worker in workers:
        with _source_tree(src):
            worker.start()
    try:
        go.wait(timeout=300)
    except threading.BrokenBarrierError:
        stop.set()
        failure = results.get(timeout=60)
        raise RuntimeError(f"{name}: a process failed to start: {failure}") from None
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    tallies = [results.get(timeout=300) for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    broken = [tally for tally in tallies if not isinstance(tally, _Tally)]
    if broken:
        raise RuntimeError(f"{name}: a process failed: {broken[0]}")
    return Run(
        name,
        clients,
        sum(t.reservations for t in tallies),
        sum(t.failures for t in tallies),
        elapsed,
        sum(t.cpu_seconds for t in tallies),
        [x for t in tallies for x in t.latencies],
    )


@contextlib.contextmanager
def _source_tree(src: str | None) -> Iterator[None]:
    """A process spawned meanwhile imports the library from ``src`` (if given)."""
    if src is None:
        yield
        return
    os.environ[_BASELINE_SRC] = src
    try:
        yield
    finally:
        del os.environ[_BASELINE_SRC]


def pgbench_contender(
    name: str,
    url: URL,
    checker: Engine,
    clients: int,
    seconds: float,
    ids: list[str],
    sweep: list[int],
) -> Run:
    """``pgbench`` at ``clients``; ``pgbench@best``: the best of a sweep over ``sweep``.

    Every transaction pgbench counts must have taken exactly one seat: checked on the
    schedule's ``reserved`` around each run, besides the invariant after it.
    """
    if url.get_backend_name() != "postgresql" or len(ids) != 1:
        raise SystemExit("the pgbench contender is for PostgreSQL's hot workload only")
    best: Run | None = None
    reserved = select(schedules.c.reserved).where(schedules.c.id == ids[0])
    for count in sweep if name == "pgbench@best" else [clients]:
        with checker.connect() as connection:
            before = connection.execute(reserved).scalar_one()
        ran = run_pgbench(url, ids[0], count, seconds)
        with checker.connect() as connection:
            taken = connection.execute(reserved).scalar_one() - before
        if taken != ran.transactions:
            raise AssertionError(f"pgbench: {ran.transactions} bookings, {taken} seats taken")
        run = Run(
            name,
            count,
            ran.transactions,
            ran.failures,
            ran.seconds,
            ran.cpu_seconds,
            ran.latencies,
        )
        if name == "pgbench@best":
            print(f"       pgbench sweep {count:3} clients {run.tps:8.1f} tx/s", flush=True)
        if best is None or run.tps > best.tps:
            best = run
    assert best is not None  # the sweep is never empty
    return best


def picker(ids: list[str], workload: str = "hot", order_lines: int = 3) -> Callable[[], Any]:
    """One schedule every time (hot), or one of many at random (spread); an order's."""
    if workload == "order":
        return order_picker(ids, order_lines)
    if workload in CANCEL_WORKLOADS:  # ids: the reservations to cancel
        return cancel_picker(ids)
    if len(ids) == 1:
        only = ids[0]
        return lambda: only
    return lambda: random.choice(ids)


def check_invariant(engine: Engine, schedule_ids: list[str]) -> None:
    r = reservations.c
    confirmed = (
        select(func.coalesce(func.sum(r.quantity), 0))
        .where(r.schedule_id == schedules.c.id, r.status.in_(["CONFIRMED", "HELD"]))
        .scalar_subquery()
    )
    query = select(schedules.c.id, schedules.c.reserved, confirmed).where(
        schedules.c.id.in_(schedule_ids)
    )
    with engine.connect() as connection:
        for schedule_id, reserved, total in connection.execute(query):
            if reserved != total:
                raise AssertionError(f"invariant broken on {schedule_id}: {reserved} != {total}")


def fresh_schedules(engine: Engine, prefix: str, count: int, pooled: bool = False) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    if pooled:
        pooled_schedules(engine, ids, CAPACITY)
        return ids
    with engine.begin() as connection:
        connection.execute(
            schedules.insert(), [{"id": i, "capacity": CAPACITY, "reserved": 0} for i in ids]
        )
    return ids


def engine_for(url: URL, clients: int, lean: bool, pgbouncer: bool) -> Engine:
    options: dict[str, Any] = {"pool_size": clients, "max_overflow": 0, "pool_timeout": 60}
    if url.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": 30}
    if lean or pgbouncer:
        options.update(recommended_engine_options(url, dedicated=lean, pgbouncer=pgbouncer))
    return create_engine(url, **options)


def setup_schema(url: URL, pgbouncer: bool) -> Engine:
    engine = create_engine(url, **recommended_engine_options(url, pgbouncer=pgbouncer))
    if url.get_backend_name() == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    empty_tables(engine)
    return engine


def empty_tables(engine: Engine) -> None:
    """The library's tables and the host's, made anew: every run starts on empty tables."""
    metadata.drop_all(engine)
    metadata.create_all(engine)
    host_metadata.drop_all(engine)
    host_metadata.create_all(engine)


def _sqlite_begin_immediate(engine: Engine) -> None:
    """The ORM peer on SQLite: pysqlite's deferred BEGIN would let read-modify-write race."""

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextlib.contextmanager
def contender(
    name: str,
    urls: list[URL],
    clients: int,
    options: dict[str, Any],
    pgbouncer: bool,
    workload: str = "hot",
) -> Iterator[MakeClient]:
    if name == "raw":
        client, close_all = raw_contender(urls, pgbouncer, workload)
        try:
            yield client
        finally:
            close_all()
        return
    # "library@K" is the library with max_concurrent_per_schedule=K (0: no admission).
    kind, _, admission = name.partition("@")
    if admission:
        options = {**options, "max_concurrent_per_schedule": int(admission) or None}
    per_node = -(-clients // len(urls))
    lean = kind in ("library", "pooled")
    engines = [engine_for(url, per_node, lean, pgbouncer) for url in urls]
    if kind == "orm" and urls[0].get_backend_name() == "sqlite":
        _sqlite_begin_immediate(engines[0])
    if workload == "order":
        kind = "library-order"  # the order workload has two contenders: library and raw
    elif workload in CANCEL_WORKLOADS:
        kind = "library-cancel"
    makers = {
        "library": library_contender,
        "pooled": library_contender,  # the same bookings, on schedules with pools
        "joined": joined_contender,
        "library-order": _library_order,
        "library-cancel": _library_cancel,
    }
    try:
        yield makers[kind](engines, options) if kind in makers else orm_contender(engines)
    finally:
        for engine in engines:
            engine.dispose()


def _services(engines: list[Engine], options: dict[str, Any]) -> list[ReservationService]:
    return [
        ReservationService(lambda engine=engine: SqlAlchemyUnitOfWork(engine), **options)
        for engine in engines
    ]


def _library_order(engines: list[Engine], options: dict[str, Any]) -> MakeClient:
    return library_order_contender(_services(engines, options))


def _library_cancel(engines: list[Engine], options: dict[str, Any]) -> MakeClient:
    return library_cancel_contender(_services(engines, options))


def summarize(workload: str, clients: int, runs: dict[str, list[Run]]) -> dict[str, Any]:
    def median_run(name: str) -> Run:
        ordered = sorted(runs[name], key=lambda run: run.tps)
        return ordered[len(ordered) // 2]

    best = {name: median_run(name) for name in runs}
    out: dict[str, Any] = {"workload": workload, "clients": clients}
    for name, run in best.items():
        out[f"{name}_tps"] = round(run.tps, 1)
    library = best.get("library")
    for name, peer in PAIRS:
        if name in best and peer in best:
            out[f"{name}_vs_{peer}"] = round(best[name].tps / best[peer].tps, 3)
    if "pgbench@best" in runs:
        out["pgbench@best_clients"] = [r.clients for r in runs["pgbench@best"]]
    if library is not None:
        out["p50_ms"] = round(library.percentile(0.50), 3)
        out["p99_ms"] = round(library.percentile(0.99), 3)
    for name, run in best.items():
        out[f"{name}_p50_ms"] = round(run.percentile(0.50), 3)
        out[f"{name}_p99_ms"] = round(run.percentile(0.99), 3)
        out[f"{name}_cpu_us"] = round(run.cpu_us, 1)
        out[f"{name}_failed"] = run.failures  # library: refusals, here only give-ups
        out[f"{name}_all_tps"] = [round(r.tps, 1) for r in runs[name]]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        required=True,
        help="SQLAlchemy URL of a scratch database; several, comma-separated: cluster nodes",
    )
    parser.add_argument(
        "--pgbouncer", action="store_true", help="the URL goes through PgBouncer (transactions)"
    )
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workload", default="hot", help="hot, spread, order, or several: hot,spread,order"
    )
    parser.add_argument("--schedules", type=int, default=1000, help="spread: how many")
    parser.add_argument(
        "--cancel-stock", type=int, default=40_000, help="cancel: reservations to cancel"
    )
    parser.add_argument(
        "--waiting", type=int, default=1000, help="cancel-waitlist: the fewest entries waiting"
    )
    parser.add_argument(
        "--order-schedules", type=int, default=5, help="order: the hot schedules orders share"
    )
    parser.add_argument(
        "--order-lines", type=int, default=3, help="order: lines per order (a seat each)"
    )
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument(
        "--admission",
        type=int,
        default=None,
        help="library: max_concurrent_per_schedule (default: the library's default)",
    )
    parser.add_argument(
        "--max-attempts", type=int, default=None, help="library: max_attempts (default: 10)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="spread each client count over N processes of threads (clients stays the total)",
    )
    parser.add_argument(
        "--pgbench-sweep",
        default="1,2,4,8,16",
        help="pgbench@best: the client counts to try; the best is reported",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="a checkout of another version: adds the contender 'baseline', its library",
    )
    parser.add_argument(
        "--keep-tables",
        action="store_true",
        help="do not empty the tables before each run (they grow through the whole run)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)

    urls = [make_url(url) for url in args.url.split(",")]
    client_counts = [int(c) for c in args.clients.split(",")]
    names = [n for n in args.contenders.split(",") if n]
    if args.baseline is not None:
        if not (args.baseline / "src" / "reservation_core").is_dir():
            raise SystemExit(f"--baseline: no src/reservation_core in {args.baseline}")
        names.append("baseline")
    options: dict[str, Any] = {}
    if args.admission is not None:
        options["max_concurrent_per_schedule"] = args.admission or None
    if args.max_attempts is not None:
        options["max_attempts"] = args.max_attempts
    checker = setup_schema(urls[0], args.pgbouncer)
    serial = itertools.count()
    try:
        for workload in args.workload.split(","):
            active = _active(names, workload)
            if active != names:
                print(f"# {workload}: runs {','.join(active)} only", file=sys.stderr)
            for clients in client_counts:
                runs: dict[str, list[Run]] = {name: [] for name in active}
                offers: dict[str, list[int]] = {name: [] for name in active}
                for _round in range(args.rounds):
                    for name in active:
                        if not args.keep_tables:
                            empty_tables(checker)
                        count = {"hot": 1, "order": args.order_schedules}.get(
                            workload, 1 if workload in CANCEL_WORKLOADS else args.schedules
                        )
                        prefix, pooled = f"{workload}{next(serial)}", name == "pooled"
                        ids = fresh_schedules(checker, prefix, count, pooled)
                        targets = ids
                        if workload in CANCEL_WORKLOADS:
                            waiting = args.waiting if workload == "cancel-waitlist" else None
                            targets = stock(checker, ids[0], args.cancel_stock, waiting)
                        run = run_contender(
                            name, urls, clients, targets, options, args, checker, workload
                        )
                        check_invariant(checker, ids)
                        if workload in CANCEL_WORKLOADS:
                            offers[name].append(check_cancels(checker, ids[0], workload))
                        if pooled:
                            check_pools(checker, ids)
                        if workload == "order":
                            check_orders(checker, ids, args.order_lines)
                        runs[name].append(run)
                        if not args.json:
                            print(
                                f"{workload:6} {clients:3} clients {name:8} "
                                f"{run.tps:8.1f} tx/s  p50 {run.percentile(0.5):7.2f} ms  "
                                f"p99 {run.percentile(0.99):7.2f} ms  "
                                f"cpu {run.cpu_us:6.0f} us/res  failed {run.failures}",
                                flush=True,
                            )
                summary = summarize(workload, clients, runs)
                if workload == "cancel-waitlist":
                    # Offers in the timed window (each client's warm-up cancel made one).
                    rates = sorted(
                        (made - clients) / run.seconds
                        for made, run in zip(offers["library"], runs["library"], strict=True)
                    )
                    summary["library_offers_per_s"] = round(rates[len(rates) // 2], 1)
                print(json.dumps(summary) if args.json else _table_line(summary), flush=True)
    finally:
        checker.dispose()
    return 0


def _active(names: list[str], workload: str) -> list[str]:
    """The contenders that have a counterpart on ``workload``."""
    if workload == "order":  # a baseline must have orders (create_order) too
        return [n for n in names if n in ("library", "raw", "baseline")]
    if workload in CANCEL_WORKLOADS:  # the library's cancels; a baseline has no waiting list
        wanted = ("library", "baseline") if workload == "cancel" else ("library",)
        return [n for n in names if n in wanted]
    # pgbench books the one hot row: on the spread workload it has no counterpart.
    return [n for n in names if workload == "hot" or not n.startswith("pgbench")]


def run_contender(
    name: str,
    urls: list[URL],
    clients: int,
    ids: list[str],
    options: dict[str, Any],
    args: argparse.Namespace,
    checker: Engine,
    workload: str = "hot",
) -> Run:
    """One run of one contender: pgbench, tasks, threads of this process or of ``--processes``."""
    if name == "library-async":
        return drive_async(name, urls[0], clients, args.seconds, picker(ids), options, Run)
    if name.startswith("pgbench"):
        sweep = [int(c) for c in args.pgbench_sweep.split(",")]
        return pgbench_contender(name, urls[0], checker, clients, args.seconds, ids, sweep)
    src = str((args.baseline / "src").resolve()) if name == "baseline" else None
    beside = name in ("library", "pooled") and args.baseline is not None
    if src or args.processes > 1 or beside:
        # Beside a baseline, the library runs in a process of its own as the baseline does.
        return drive_processes(
            name,
            urls,
            args.processes,
            clients,
            args.seconds,
            ids,
            options,
            args.pgbouncer,
            src,
            workload,
            args.order_lines,
        )
    pick = picker(ids, workload, args.order_lines)
    with contender(name, urls, clients, options, args.pgbouncer, workload) as make_client:
        return drive(name, make_client, clients, args.seconds, pick)


def _table_line(summary: dict[str, Any]) -> str:
    parts = [f"== {summary['workload']} {summary['clients']} clients:"]
    parts += [
        f"{key}={summary[key]}"
        for key in (
            "library_tps",
            "joined_tps",
            "raw_tps",
            "orm_tps",
            "pgbench_tps",
            "pgbench@best_tps",
            "pgbench@best_clients",
            "library_vs_raw",
            "baseline_tps",
            "library_vs_baseline",
            "pooled_tps",
            "pooled_vs_library",
            "library_offers_per_s",
            "library_vs_orm",
            "joined_vs_raw",
            "library-async_tps",
            "library-async_vs_library",
            "library_vs_pgbench",
            "library_vs_pgbench@best",
            "raw_vs_pgbench",
        )
        if key in summary
    ]
    return " ".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
