"""Running a use case in a fresh unit of work, again on transient trouble (private)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import AbstractUnitOfWork, ConnectionLost, TransientConflict

T = TypeVar("T")

_log = logging.getLogger("reservation_core.retry")

#: The service method running in this thread or task, for log records and hooks.
current_operation: contextvars.ContextVar[str] = contextvars.ContextVar(
    "reservation_core_operation", default="unknown"
)
U = TypeVar("U", bound=AbstractUnitOfWork)


def run_in_unit_of_work(
    uow_factory: Callable[[], U],
    use_case: Callable[[U], T],
    *,
    max_attempts: int,
    backoff: float,
    admitted: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Run ``use_case`` in a unit of work from ``uow_factory``; retry the whole of it.

    A transient conflict that outlasts ``max_attempts`` is ``CONCURRENCY_CONFLICT``; a lost
    connection, ``STORAGE_UNAVAILABLE``. Between attempts it sleeps a random time up to
    ``backoff * 2**attempt`` (full jitter, so retrying clients do not collide in lockstep).
    Each attempt runs inside ``admitted()``, entered before the unit of work takes a
    connection, so a caller waiting for admission holds none. A unit of work that is not
    :attr:`~reservation_core.ports.AbstractUnitOfWork.retryable` (inside the host's
    transaction) runs once, unadmitted: its transient conflict is ``CONCURRENCY_CONFLICT``
    with ``details["retryable"] is True``, for the host to retry its whole transaction.

    Each retry is logged at ``INFO`` and told to ``on_retry(attempt, error, delay)``; a
    give-up is logged at ``WARNING``. Nothing is logged for a call that simply succeeds.
    """
    for attempt in range(1, max_attempts + 1):
        uow = uow_factory()
        try:
            # Admission is for units of work that take a connection of their own: inside
            # the host's transaction, which may hold the very row lock the admitted calls
            # wait on, waiting for admission could deadlock.
            with admitted() if uow.retryable else contextlib.nullcontext(), uow:
                return use_case(uow)
        except (TransientConflict, ConnectionLost) as error:
            joined = not uow.retryable
            if joined or attempt == max_attempts:
                gave_up = _gave_up(error, attempt, joined=joined)
                _log.warning(
                    "%s gave up after %d attempt(s): %s (%s)",
                    current_operation.get(),
                    attempt,
                    gave_up.code,
                    type(error).__name__,
                    extra={"operation": current_operation.get(), "attempts": attempt},
                )
                raise gave_up from error
            delay = random.uniform(0, backoff * 2 ** min(attempt, 6))
            _log.info(
                "%s retrying after %s (attempt %d of %d)",
                current_operation.get(),
                type(error).__name__,
                attempt,
                max_attempts,
                extra={"operation": current_operation.get(), "attempt": attempt},
            )
            if on_retry is not None:
                on_retry(attempt, error, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _gave_up(error: Exception, attempts: int, *, joined: bool) -> BusinessException:
    if isinstance(error, ConnectionLost):
        return BusinessException(ErrorCode.STORAGE_UNAVAILABLE, details={"attempts": attempts})
    if joined:
        return BusinessException(
            ErrorCode.CONCURRENCY_CONFLICT,
            "A concurrent transaction conflicted with this one; "
            "roll back and retry your whole transaction.",
            details={"retryable": True},
        )
    return BusinessException(ErrorCode.CONCURRENCY_CONFLICT, details={"attempts": attempts})
