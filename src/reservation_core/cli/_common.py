"""What every command shares: opening the database, one-line errors, timing, output."""

from __future__ import annotations

import contextlib
import json
import math
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from reservation_core.adapters.sqlalchemy import _audit, metadata

FORMS = "sqlite:///FILE, postgresql+psycopg://USER@HOST/DB or mysql+pymysql://USER@HOST/DB"
SUPPORTED = f"reservation_core supports {FORMS}"
#: The URL scheme reservation_core ships a driver extra for, and that extra, per backend.
_EXTRAS = {
    "postgresql": ("postgresql+psycopg", "postgresql"),
    "mysql": ("mysql+pymysql", "mysql"),
    "mariadb": ("mariadb+pymysql", "mysql"),
}


class CliError(Exception):
    """A failure the command reports as one line on stderr, exiting with status 2."""


def one_line(text: object) -> str:
    """The first line of ``text``, stripped (driver messages span several lines)."""
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else ""


def shown(url: URL | Engine) -> str:
    """A URL fit to print: the password hidden."""
    url = url.url if isinstance(url, Engine) else url
    return url.render_as_string(hide_password=True)


def parse_url(text: str) -> URL:
    """Parse a database URL, or fail with a :class:`CliError` that shows the expected form."""
    try:
        url = make_url(text)
    except (sa_exc.ArgumentError, ValueError) as error:  # ValueError: a port not a number
        detail = f": {one_line(error)}" if isinstance(error, ValueError) else ""
        masked = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", text)  # never print a password
        raise CliError(f"not a database URL: {masked!r}{detail} (expected {FORMS})") from None
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise CliError(
            "an in-memory SQLite database is private to each connection; "
            "give a file: sqlite:///path/to/reservations.db"
        )
    return url


def _missing_driver(url: URL, error: ImportError) -> CliError:
    reason = one_line(error)
    known = _EXTRAS.get(url.get_backend_name())
    if known is None:
        return CliError(f"the driver for {url.drivername} is not installed ({reason}); {SUPPORTED}")
    scheme, extra = known
    advice = f"pip install 'reservation-core[{extra}]'"
    if url.drivername != scheme:
        advice = f"use a {scheme}:// URL and {advice}"
    return CliError(f"the driver for {url.drivername} is not installed ({reason}): {advice}")


def open_engine(url_text: str, *, pool_size: int = 5, connect: bool = True) -> Engine:
    """An engine on ``url_text`` with a bounded pool that threads queue on.

    Raises:
        CliError: a bad URL, an unknown dialect, a missing driver, or (with ``connect``) a
            database that cannot be reached.
    """
    url = parse_url(url_text)
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
            with engine.connect():
                pass
        # Drivers reject a bad URL option with their own TypeError or ValueError.
        except (sa_exc.DBAPIError, TypeError, ValueError) as error:
            engine.dispose()
            reason = one_line(getattr(error, "orig", error))
            raise CliError(f"cannot connect to {shown(url)}: {reason}") from None
    return engine


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
        engine = open_engine(url_text, pool_size=pool_size)
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


def mark(ok: bool) -> str:
    """``ok`` or ``FAILED``, for the text reports."""
    return "ok" if ok else "FAILED"
