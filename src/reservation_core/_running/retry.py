"""Running a use case in a fresh unit of work, again on transient trouble (private).

What to do after a failed attempt (give up, or wait how long) is decided once, in
:class:`RetryPolicy`, free of I/O; :func:`run_in_unit_of_work` and
:func:`reservation_core._running.async_retry.run_in_async_unit_of_work` are the thin loops that
sleep the way their world sleeps.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import NoReturn, TypeVar

from reservation_core._running.observing import current_operation
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import AbstractUnitOfWork, ConnectionLost, TransientConflict

T = TypeVar("T")

_log = logging.getLogger("reservation_core.retry")

U = TypeVar("U", bound=AbstractUnitOfWork)
#: What a fresh attempt may get past: the errors :class:`RetryPolicy` decides about.
RETRIED = (TransientConflict, ConnectionLost)


class RetryPolicy:
    """After a transient failure: how long to wait before the next attempt, or give up.

    A transient conflict that outlasts ``max_attempts`` is ``CONCURRENCY_CONFLICT``; a lost
    connection, ``STORAGE_UNAVAILABLE``. The wait is a random time up to
    ``backoff * 2**attempt`` (full jitter, so retrying clients do not collide in lockstep).
    A unit of work that is not :attr:`~reservation_core.ports.AbstractUnitOfWork.retryable`
    (inside the host's transaction) runs once: its transient conflict is
    ``CONCURRENCY_CONFLICT`` with ``details["retryable"] is True``, for the host to retry
    its whole transaction.

    Each retry is logged at ``INFO`` and told to ``on_retry(attempt, error, delay)``; a
    give-up is logged at ``WARNING``. Nothing is logged for a call that simply succeeds.
    """

    __slots__ = ("_backoff", "_max_attempts", "_on_retry")

    def __init__(
        self,
        max_attempts: int,
        backoff: float,
        on_retry: Callable[[int, BaseException, float], None] | None = None,
    ) -> None:
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._on_retry = on_retry

    def delay_after(self, error: Exception, attempt: int, *, retryable: bool) -> float:
        """The pause before attempt ``attempt + 1``; raises the give-up error instead."""
        if not retryable or attempt >= self._max_attempts:
            self._give_up(error, attempt, joined=not retryable)
        delay = random.uniform(0, self._backoff * 2 ** min(attempt, 6))
        operation = current_operation.get()
        _log.info(
            "%s retrying after %s (attempt %d of %d)",
            operation,
            type(error).__name__,
            attempt,
            self._max_attempts,
            extra={"operation": operation, "attempt": attempt},
        )
        if self._on_retry is not None:
            self._on_retry(attempt, error, delay)
        return delay

    @staticmethod
    def _give_up(error: Exception, attempts: int, *, joined: bool) -> NoReturn:
        gave_up = _gave_up(error, attempts, joined=joined)
        operation = current_operation.get()
        _log.warning(
            "%s gave up after %d attempt(s): %s (%s)",
            operation,
            attempts,
            gave_up.code,
            type(error).__name__,
            extra={"operation": operation, "attempts": attempts},
        )
        raise gave_up from error


def run_in_unit_of_work(
    uow_factory: Callable[[], U],
    use_case: Callable[[U], T],
    policy: RetryPolicy,
    admitted: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
) -> T:
    """Run ``use_case`` in a unit of work from ``uow_factory``; retry the whole of it.

    Each attempt runs inside ``admitted()``, entered before the unit of work takes a
    connection, so a caller waiting for admission holds none. Admission is for units of
    work that take a connection of their own: inside the host's transaction, which may
    hold the very row lock the admitted calls wait on, waiting could deadlock.
    """
    attempt = 0
    while True:
        attempt += 1
        uow = uow_factory()
        try:
            with admitted() if uow.retryable else contextlib.nullcontext(), uow:
                return use_case(uow)
        except RETRIED as error:
            time.sleep(policy.delay_after(error, attempt, retryable=uow.retryable))


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
