"""Translation of driver errors into what the service understands (private).

Each database and driver names the same trouble differently; :mod:`._dialects` classifies,
this module decides what each class of trouble becomes.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from reservation_core._running.observing import current_operation
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import ConnectionLost, TransientConflict

_log = logging.getLogger("reservation_core.storage")


class Trouble(enum.Enum):
    """What a database error means for the use case."""

    TRANSIENT = "transient"  # deadlock, serialization failure, lock timeout, busy file
    DISCONNECT = "disconnect"  # the connection is gone or could not be made
    DUPLICATE = "duplicate"  # a unique constraint refused the write
    INTEGRITY = "integrity"  # another constraint refused the write
    OTHER = "other"


class UnsupportedDatabaseError(BusinessException, ValueError):
    """The engine's dialect or driver is not one reservation_core supports.

    Raised when a unit of work is constructed, so that wiring an unsupported database
    fails at once and plainly. A ``ValueError`` for the code that wires the engine, and a
    ``BusinessException`` (``STORAGE_UNAVAILABLE``) for a caller that meets it through the
    service; the message names what is supported.
    """


class UniqueViolation(TransientConflict):
    """A unique constraint refused a write.

    The repositories that expect one (adding a schedule, a reservation, an idempotency
    key) catch it and answer in domain terms; anywhere else it is retried like a conflict.
    """


#: A dialect's reading of a driver exception (by SQLSTATE, errno or SQLite result code).
Classifier = Callable[[BaseException | None], "Trouble | None"]


def trouble_of(error: sa_exc.DBAPIError | OSError, classify: Classifier) -> Trouble:
    """Classify ``error`` with a dialect's reading of its code.

    A bare ``OSError`` is a socket that failed under a driver that let it through
    unwrapped (pg8000 does, now and then, when the server closes the connection).
    """
    if isinstance(error, OSError):
        return Trouble.DISCONNECT
    if error.connection_invalidated:
        return Trouble.DISCONNECT
    known = classify(error.orig)
    if known is not None:
        return known
    if isinstance(error, sa_exc.IntegrityError):
        return Trouble.INTEGRITY
    return Trouble.OTHER


def seen_lost(error: BaseException | None) -> bool:
    """Whether ``error`` is what :func:`translated` makes of a connection it saw die.

    Its connection must never be pooled again: the pool would reset it (a rollback that
    fails on a dead connection, logged at ERROR with a traceback), or hand it to the next
    caller. SQLAlchemy discards it by itself only where it reads the driver's error as a
    disconnect; a driver's bare socket error (pg8000's, at COMMIT) it does not.
    """
    if isinstance(error, ConnectionLost):
        return True
    return isinstance(error, BusinessException) and error.details.get("outcome") == "unknown"


@contextmanager
def translated(
    classify: Classifier, *, connecting: bool = False, committing: bool = False
) -> Iterator[None]:
    """Turn SQLAlchemy and driver errors raised inside the block into service errors.

    Transient conflicts and lost (or refused) connections become retryable signals; a
    connection lost *while committing* is ``STORAGE_UNAVAILABLE`` at once, since the
    commit may or may not have happened and running the use case again could repeat it.
    """
    try:
        yield
    except (sa_exc.DBAPIError, OSError) as error:
        trouble = Trouble.DISCONNECT if connecting else trouble_of(error, classify)
        reason = str(getattr(error, "orig", error))
        if trouble is Trouble.TRANSIENT:
            raise TransientConflict(reason) from error
        if trouble is Trouble.DUPLICATE:
            raise UniqueViolation(reason) from error
        if trouble is Trouble.DISCONNECT and committing:
            _log.warning(
                "connection lost while committing; the outcome is unknown: %s",
                type(getattr(error, "orig", error)).__name__,
                extra={"operation": current_operation.get()},
            )
            raise BusinessException(
                ErrorCode.STORAGE_UNAVAILABLE,
                "The connection was lost while committing; the outcome is unknown.",
                details={"outcome": "unknown"},
            ) from error
        if trouble is Trouble.DISCONNECT:
            raise ConnectionLost(reason) from error
        raise BusinessException(
            ErrorCode.STORAGE_UNAVAILABLE,
            "The database refused the operation.",
            details={"reason": type(getattr(error, "orig", error)).__name__},
        ) from error
    except sa_exc.TimeoutError as error:  # no pooled connection came free in time
        raise BusinessException(
            ErrorCode.STORAGE_UNAVAILABLE,
            "No database connection became available in time.",
            details={"reason": "pool_timeout"},
        ) from error
    except sa_exc.SQLAlchemyError as error:
        raise BusinessException(
            ErrorCode.STORAGE_UNAVAILABLE,
            "The database could not be used.",
            details={"reason": type(error).__name__},
        ) from error
