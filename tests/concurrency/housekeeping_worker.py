"""One of the processes of ``test_housekeeping_processes.py``: ``run_housekeeping`` once.

``python -m tests.concurrency.housekeeping_worker URL``: connects, prints ``ready``, waits
for a line on stdin (the test sends it to every process at once, once all are ready: a
barrier across processes), runs the housekeeping, and prints one JSON object: the report,
and how long each unit of work (each transaction) lasted, measured here, from entering it
to leaving it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from typing import Any

from sqlalchemy import create_engine

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork


class TimedUnitOfWork(SqlAlchemyUnitOfWork):
    """A unit of work that notes how long it was open (its transaction, and any wait)."""

    durations: list[float] = []  # noqa: RUF012 - one process, one list

    def __enter__(self) -> TimedUnitOfWork:
        self._began = time.monotonic()
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            TimedUnitOfWork.durations.append(time.monotonic() - self._began)


def main(url: str) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    service = ReservationService(lambda: TimedUnitOfWork(engine))
    engine.connect().close()  # connected before the start
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.monotonic()
    report = service.run_housekeeping()
    took = time.monotonic() - began
    durations = TimedUnitOfWork.durations
    print(
        json.dumps(
            {
                **dataclasses.asdict(report),
                "seconds": took,
                "units": len(durations),
                "longest": max(durations, default=0.0),
                "longest_at": durations.index(max(durations)) if durations else None,
            }
        )
    )
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
