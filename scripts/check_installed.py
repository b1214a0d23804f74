"""Checks an installed reservation-core, run by the release check from a clean virtualenv.

Run it with that virtualenv's Python from outside the checkout, so that the installed
package, not the source tree, is imported.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

from sqlalchemy import create_engine

import reservation_core
from reservation_core import BusinessException, ReservationService
from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from reservation_core.relay import message_schema


def _check_overbooking_refused(service: ReservationService) -> None:
    service.create_schedule("s", 1)
    service.create_reservation("s", "u")
    try:
        service.create_reservation("s", "v")
    except BusinessException as error:
        if error.code != "CAPACITY_EXCEEDED":
            raise SystemExit(f"expected CAPACITY_EXCEEDED, got {error.code}") from error
    else:
        raise SystemExit("overbooked")


def main() -> None:
    """Import from site-packages, nothing optional pulled in, both adapters usable."""
    package = pathlib.Path(reservation_core.__file__).parent
    if "site-packages" not in str(package):
        raise SystemExit(f"imported from {package}, not from the installed wheel")
    if not (package / "py.typed").exists():
        raise SystemExit("py.typed is missing from the wheel")
    if "hypothesis" in sys.modules:
        raise SystemExit("import reservation_core imported Hypothesis (an optional extra)")
    engine = create_engine(f"sqlite:///{tempfile.mkdtemp()}/wheel.sqlite3")
    metadata.create_all(engine)
    store = InMemoryStore()
    _check_overbooking_refused(ReservationService(lambda: InMemoryUnitOfWork(store)))
    _check_overbooking_refused(ReservationService(lambda: SqlAlchemyUnitOfWork(engine)))
    # The relay's message schema is package data; no broker client comes with the core.
    if message_schema()["properties"]["version"]["const"] != 1:
        raise SystemExit("the relay's message schema is not the one shipped")
    if {"nats", "aio_pika", "redis"} & set(sys.modules):
        raise SystemExit("import reservation_core.relay imported a broker client (an extra)")
    print("wheel OK:", reservation_core.__version__, "from", package)


if __name__ == "__main__":
    main()
