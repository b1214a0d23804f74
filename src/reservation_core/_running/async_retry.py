"""The retry loop for asyncio: :func:`.retry.run_in_unit_of_work`, awaited (private).

The decisions (give up, or how long to wait) are :class:`._retry.RetryPolicy`'s; this loop
only waits the asyncio way, so the event loop runs on while a call backs off or queues
for admission.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from reservation_core._running.retry import RETRIED, RetryPolicy
from reservation_core.ports import AbstractAsyncUnitOfWork, AbstractUnitOfWork

T = TypeVar("T")

AsyncUnitOfWorkFactory = Callable[[], AbstractAsyncUnitOfWork | AbstractUnitOfWork]


async def run_in_async_unit_of_work(
    uow_factory: AsyncUnitOfWorkFactory,
    use_case: Callable[[AbstractUnitOfWork], T],
    policy: RetryPolicy,
    admitted: Callable[[], AbstractAsyncContextManager[object]] = contextlib.nullcontext,
) -> T:
    """Run ``use_case`` in a unit of work from ``uow_factory``; retry the whole of it.

    A sync :class:`~reservation_core.ports.AbstractUnitOfWork` (a wiring of the sync
    service's) runs in a worker thread, so it never blocks the event loop either.
    """
    attempt = 0
    while True:
        attempt += 1
        uow = uow_factory()
        try:
            async with admitted() if uow.retryable else contextlib.nullcontext():
                if isinstance(uow, AbstractAsyncUnitOfWork):
                    return await uow.run(use_case)
                if isinstance(uow, AbstractUnitOfWork):
                    return await asyncio.to_thread(_within, uow, use_case)
                raise TypeError(
                    "the unit of work factory must return an AbstractAsyncUnitOfWork "
                    f"(or an AbstractUnitOfWork), not {type(uow).__name__}"
                )
        except RETRIED as error:
            await asyncio.sleep(policy.delay_after(error, attempt, retryable=uow.retryable))


def _within(uow: AbstractUnitOfWork, use_case: Callable[[AbstractUnitOfWork], T]) -> T:
    with uow:
        return use_case(uow)
