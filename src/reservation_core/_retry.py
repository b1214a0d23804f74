"""Running a use case in a fresh unit of work, again on transient trouble (private)."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import AbstractUnitOfWork, ConnectionLost, TransientConflict

T = TypeVar("T")
U = TypeVar("U", bound=AbstractUnitOfWork)


def run_in_unit_of_work(
    uow_factory: Callable[[], U],
    use_case: Callable[[U], T],
    *,
    max_attempts: int,
    backoff: float,
    admitted: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
) -> T:
    """Run ``use_case`` in a unit of work from ``uow_factory``; retry the whole of it.

    A transient conflict that outlasts ``max_attempts`` is ``CONCURRENCY_CONFLICT``; a lost
    connection, ``STORAGE_UNAVAILABLE``. Between attempts it sleeps a random time up to
    ``backoff * 2**attempt`` (full jitter, so retrying clients do not collide in lockstep).
    Each attempt runs inside ``admitted()``, entered before the unit of work takes a
    connection, so a caller waiting for admission holds none.
    """
    for attempt in range(1, max_attempts + 1):
        try:
            with admitted(), uow_factory() as uow:
                return use_case(uow)
        except (TransientConflict, ConnectionLost) as error:
            if attempt == max_attempts:
                code = (
                    ErrorCode.STORAGE_UNAVAILABLE
                    if isinstance(error, ConnectionLost)
                    else ErrorCode.CONCURRENCY_CONFLICT
                )
                raise BusinessException(code, details={"attempts": attempt}) from error
        time.sleep(random.uniform(0, backoff * 2 ** min(attempt, 6)))
    raise AssertionError("unreachable")  # pragma: no cover
