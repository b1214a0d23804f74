"""The SQLAlchemy adapter: SQLite, PostgreSQL and MariaDB/MySQL through SQLAlchemy Core.

``metadata`` holds the ``rc_`` tables; ``SqlAlchemyUnitOfWork(engine)`` runs a use case's
transaction on an engine the host creates (none is created at import time);
``audit(engine, repair=False)`` checks (and fixes) every schedule's stored seat count.

Examples:
    >>> from sqlalchemy import create_engine
    >>> from reservation_core import ReservationService
    >>> from reservation_core.adapters.sqlalchemy import (
    ...     SqlAlchemyUnitOfWork, metadata, recommended_engine_options)
    >>> url = "sqlite:///reservations.db"
    >>> engine = create_engine(url, **recommended_engine_options(url))  # doctest: +SKIP
    >>> metadata.create_all(engine)  # doctest: +SKIP
    >>> service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))  # doctest: +SKIP
"""

from typing import TYPE_CHECKING, Any

from reservation_core.adapters.sqlalchemy._audit import AuditReport, ScheduleDrift, audit
from reservation_core.adapters.sqlalchemy._dialects import async_url, recommended_engine_options
from reservation_core.adapters.sqlalchemy.tables import (
    event_consumers,
    event_deliveries,
    events,
    idempotency_keys,
    metadata,
    reservations,
    schedules,
)
from reservation_core.adapters.sqlalchemy.uow import SqlAlchemyUnitOfWork

__all__ = [
    "AsyncSqlAlchemyUnitOfWork",
    "AuditReport",
    "ScheduleDrift",
    "SqlAlchemyUnitOfWork",
    "async_url",
    "audit",
    "event_consumers",
    "event_deliveries",
    "events",
    "idempotency_keys",
    "metadata",
    "recommended_engine_options",
    "reservations",
    "schedules",
]

if TYPE_CHECKING:
    from reservation_core.adapters.sqlalchemy.async_uow import AsyncSqlAlchemyUnitOfWork


def __getattr__(name: str) -> Any:
    """``AsyncSqlAlchemyUnitOfWork``, imported on first use.

    It needs SQLAlchemy's asyncio extension, whose greenlet dependency the sync adapter
    does without (SQLAlchemy 2.1 no longer installs it by default).
    """
    if name == "AsyncSqlAlchemyUnitOfWork":
        try:
            from reservation_core.adapters.sqlalchemy.async_uow import (  # noqa: PLC0415
                AsyncSqlAlchemyUnitOfWork,
            )
        except ImportError as error:
            raise ImportError(
                f"AsyncSqlAlchemyUnitOfWork needs SQLAlchemy's asyncio support ({error}): "
                'pip install "reservation-core[asyncio]"'
            ) from error
        return AsyncSqlAlchemyUnitOfWork
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
