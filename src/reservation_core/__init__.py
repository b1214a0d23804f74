"""reservation_core: reservations on scheduled programs with a fixed capacity.

Never overbooks, never loses a seat, never refunds twice, under any concurrency, on the
in-memory store or the database a backend already runs (SQLite, PostgreSQL, MariaDB/MySQL).

Examples:
    >>> from reservation_core import ReservationService
    >>> from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
    >>> store = InMemoryStore()
    >>> service = ReservationService(lambda: InMemoryUnitOfWork(store))
    >>> service.create_schedule("tour-42", capacity=2).capacity
    2
"""

from reservation_core._version import __version__
from reservation_core.async_service import AsyncReservationService
from reservation_core.domain import (
    HousekeepingReport,
    OrderLine,
    Reservation,
    ReservationEvent,
    ReservationPage,
    ReservationStatus,
    Schedule,
    SchedulePage,
    WaitlistEntry,
    WaitlistStatus,
)
from reservation_core.errors import HTTP_STATUS, BusinessException, ErrorCode
from reservation_core.service import ReservationService

__all__ = [
    "HTTP_STATUS",
    "AsyncReservationService",
    "BusinessException",
    "ErrorCode",
    "HousekeepingReport",
    "OrderLine",
    "Reservation",
    "ReservationEvent",
    "ReservationPage",
    "ReservationService",
    "ReservationStatus",
    "Schedule",
    "SchedulePage",
    "WaitlistEntry",
    "WaitlistStatus",
    "__version__",
]
