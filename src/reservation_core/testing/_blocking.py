"""A blocking view of an AsyncReservationService, for sync code such as the kit (private).

Every call is run on one event loop of this module's own, in a daemon thread, and the
calling thread waits for its answer. Calls from many threads run there as concurrent
tasks, so a threaded race against the view is a race of tasks in the async service.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from reservation_core.async_service import AsyncReservationService

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def shared_loop() -> asyncio.AbstractEventLoop:
    """The module's event loop, started in a daemon thread on first use."""
    global _loop  # noqa: PLW0603 - one loop per process, made on demand
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(
                target=loop.run_forever, name="reservation_core.testing loop", daemon=True
            ).start()
            _loop = loop
        return _loop


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on :func:`shared_loop` and wait for its result in this thread."""
    loop = shared_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coroutine.close()
        raise RuntimeError("run() waits for the shared loop: call it from another thread")
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


class BlockingService:
    """``service``'s methods as blocking calls: ``view.create_schedule(...)`` returns."""

    def __init__(self, service: AsyncReservationService) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._service, name)
        if not inspect.iscoroutinefunction(method):
            return method  # type: ignore[no-any-return]

        def call(*args: Any, **kwargs: Any) -> Any:
            return run(method(*args, **kwargs))

        return call
