"""What every command shares: opening the database, one-line errors, timing, output."""

from __future__ import annotations

import contextlib
import json
import math
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from reservation_core.adapters.sqlalchemy import _audit, metadata
from reservation_core.cli._options import URL_VARIABLE
from reservation_core.cli._urls import FORMS, CliError, parse_url, shown

SUPPORTED = f"reservation_core supports {FORMS}"
#: The URL scheme reservation_core ships a driver extra for, and how to install it, per
#: backend. ``postgresql-binary`` brings its own libpq; ``postgresql`` needs the system's.
_EXTRAS = {
    "postgresql": (
        "postgresql+psycopg",
        "pip install 'reservation-core[postgresql-binary]' "
        "(or [postgresql] to use the system's libpq)",
    ),
    "mysql": ("mysql+pymysql", "pip install 'reservation-core[mysql]'"),
    "mariadb": ("mariadb+pymysql", "pip install 'reservation-core[mysql]'"),
}


def one_line(text: object) -> str:
    """The first line of ``text``, stripped (driver messages span several lines)."""
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else ""


def _missing_driver(url: URL, error: ImportError) -> CliError:
    reason = one_line(error)
    known = _EXTRAS.get(url.get_backend_name())
    if known is None:
        return CliError(f"the driver for {url.drivername} is not installed ({reason}); {SUPPORTED}")
    scheme, advice = known
    if url.drivername != scheme:
        advice = f"use a {scheme}:// URL and {advice}"
    return CliError(f"the driver for {url.drivername} is not installed ({reason}): {advice}")


def _missing_sqlite_file(url: URL) -> Path | None:
    """The file of a ``sqlite:///FILE`` URL when it does not exist (SQLite would create it)."""
    if url.get_backend_name() != "sqlite" or "uri" in url.query or url.database is None:
        return None
    path = Path(url.database)
    return None if path.exists() else path


def open_engine(
    url_text: str | None, *, pool_size: int = 5, connect: bool = True, must_exist: bool = False
) -> Engine:
    """An engine on ``url_text`` with a bounded pool that threads queue on.

    Args:
        url_text: the database URL (``None``: neither ``--url`` nor its variable was given).
        pool_size: the connections the pool holds at most.
        connect: connect once, so that an unreachable database fails here.
        must_exist: refuse a SQLite file that does not exist, rather than create it empty.

    Raises:
        CliError: no URL, a bad URL, an unknown dialect, a missing driver, a missing SQLite file
            (with ``must_exist``) or (with ``connect``) a database that cannot be reached.
    """
    if url_text is None:
        raise CliError(f"no database given: pass --url URL or set {URL_VARIABLE}")
    url = parse_url(url_text)
    missing = _missing_sqlite_file(url) if must_exist else None
    if missing is not None:
        raise CliError(
            f"the SQLite file {str(missing)!r} does not exist; check the path, or create "
            f"the schema there first: reservation-core migrate --url {shown(url)}"
        )
    try:
        engine = create_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60)
    except sa_exc.NoSuchModuleError:
        raise CliError(f"unknown database or driver {url.drivername!r}; {SUPPORTED}") from None
    except ImportError as error:
        raise _missing_driver(url, error) from None
    except (sa_exc.ArgumentError, TypeError, ValueError) as error:
        raise CliError(f"bad database URL {shown(url)}: {one_line(error)}") from None
    if connect:
        try:
            _connect_once(engine)
        # Drivers reject a bad URL option with their own TypeError or ValueError.
        except (sa_exc.DBAPIError, TypeError, ValueError) as error:
            engine.dispose()
            reason = one_line(getattr(error, "orig", error))
            raise CliError(f"cannot connect to {shown(url)}: {reason}") from None
    return engine


#: Tries of the first connection when the server drops it (a DBA's kill, a failover).
_CONNECT_ATTEMPTS = 3


def _connect_once(engine: Engine) -> None:
    """Connect and let go; a connection dropped as it was made is tried again, briefly.

    A dropped connection is not an unreachable database: the command should not end on
    one while, say, a DBA kills connections under a stress run.
    """
    for attempt in range(1, _CONNECT_ATTEMPTS + 1):
        try:
            with engine.connect():
                return
        except sa_exc.DBAPIError as error:
            if not error.connection_invalidated or attempt == _CONNECT_ATTEMPTS:
                raise
            time.sleep(0.1 * attempt)


def require_schema(engine: Engine) -> None:
    """Fail with a :class:`CliError` unless the ``rc_`` tables exist."""
    existing = set(inspect(engine).get_table_names())
    missing = sorted(set(metadata.tables) - existing)
    if missing:
        raise CliError(
            f"{shown(engine)} lacks the reservation_core tables ({', '.join(missing)}); "
            f"create them first: reservation-core migrate --url URL"
        )


@contextlib.contextmanager
def database(url_text: str | None, *, pool_size: int) -> Iterator[Engine]:
    """The engine of ``--url``, or of a new SQLite file in a temporary directory.

    The temporary database gets the schema; a given one must have it already.
    """
    with contextlib.ExitStack() as stack:
        fresh = url_text is None
        if url_text is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url_text = f"sqlite:///{folder / 'reservations.sqlite3'}"
        engine = open_engine(url_text, pool_size=pool_size, must_exist=not fresh)
        stack.callback(engine.dispose)  # last in, first out: before the folder goes
        if fresh:
            metadata.create_all(engine)
        else:
            require_schema(engine)
        yield engine


def remove_schedules(engine: Engine, schedule_ids: Sequence[str]) -> None:
    """Delete the schedules a command created, and their reservations."""
    _audit.remove_schedules(engine, schedule_ids)


def released_together(count: int, work: Callable[[int], None]) -> float:
    """Run ``work(0) .. work(count - 1)`` in threads released by one barrier.

    Returns the seconds from the release to the end of the last one.
    """
    barrier = threading.Barrier(count + 1)

    def run(index: int) -> None:
        barrier.wait()
        work(index)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def percentile_ms(seconds: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of durations in seconds, in milliseconds."""
    if not seconds:
        return 0.0
    ordered = sorted(seconds)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return round(ordered[rank - 1] * 1000, 3)


def timing(count: int, elapsed: float, latencies: Sequence[float]) -> dict[str, float]:
    """Throughput and latency percentiles, as the JSON reports name them."""
    return {
        "elapsed_s": round(elapsed, 3),
        "throughput_per_s": round(count / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
    }


def emit(
    report: dict[str, Any], as_json: bool, text: Callable[[dict[str, Any]], list[str]]
) -> None:
    """Print ``report`` as one JSON object, or as the lines ``text`` makes of it."""
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print("\n".join(text(report)))


def counted(number: int, noun: str) -> str:
    """``1 schedule``, ``3 schedules``: a count and its (regular) noun, in agreement."""
    return f"{number} {noun if number == 1 else noun + 's'}"


def mark(ok: bool) -> str:
    """``ok`` or ``FAILED``, for the text reports."""
    return "ok" if ok else "FAILED"


@contextlib.contextmanager
def stop_on_signal() -> Iterator[threading.Event]:
    """An event set by the first SIGINT or SIGTERM; a second SIGINT interrupts at once."""
    stop = threading.Event()

    def asked(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, asked) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
