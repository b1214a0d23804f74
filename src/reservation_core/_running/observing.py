"""Calls of the service seen by its hooks: a context per call, retries, outcomes (private)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any, TypeVar, cast

from reservation_core.errors import BusinessException
from reservation_core.instrumentation import Hooks, Outcome, RetryEvent

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
A = TypeVar("A", bound=Callable[..., Coroutine[Any, Any, Any]])

_log = logging.getLogger("reservation_core.instrumentation")

#: The service method running in this thread or task, for log records and hooks.
current_operation: contextvars.ContextVar[str] = contextvars.ContextVar(
    "reservation_core_operation", default="unknown"
)


class _Guarded:
    """A hook's context whose failures are logged, never raised into the call."""

    def __init__(self, hook: Hooks, operation: str) -> None:
        self._hook, self._operation = hook, operation
        self._context: AbstractContextManager[object] | None = None

    def __enter__(self) -> None:
        try:
            context = self._hook.on_call(self._operation)
            context.__enter__()
        except Exception:  # noqa: BLE001 - a hook never fails a call
            _log.exception("hook %r failed entering %s", self._hook, self._operation)
        else:
            self._context = context

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._context is None:
            return
        try:
            self._context.__exit__(exc_type, exc, tb)
        except Exception:  # noqa: BLE001 - a hook never fails a call
            _log.exception("hook %r failed leaving %s", self._hook, self._operation)


class Observer:
    """Runs each call of a service inside its hooks and tells them how it went."""

    def __init__(self, hooks: Hooks | Sequence[Hooks] | None) -> None:
        listed = [] if hooks is None else [hooks] if isinstance(hooks, Hooks) else list(hooks)
        for hook in listed:
            if not isinstance(hook, Hooks):
                raise TypeError(f"hooks must be Hooks instances, not {type(hook).__name__}")
        self._hooks = tuple(listed)
        #: No hooks: a call only names its operation (``current_operation``).
        self.silent = not self._hooks

    @contextlib.contextmanager
    def observing(self, operation: str) -> Iterator[None]:
        """Run the block as the service method ``operation``, inside every hook.

        A plain context manager, so the same code observes a thread's call and a task's
        (its ``await`` included): a task cancelled mid-call is told as ``CANCELLED``.
        """
        token = current_operation.set(operation)
        try:
            if not self._hooks:
                yield
                return
            with ExitStack() as stack:
                for hook in self._hooks:
                    stack.enter_context(_Guarded(hook, operation))
                started, code = time.perf_counter(), "OK"
                try:
                    yield
                except BusinessException as error:
                    code = str(error.code)
                    raise
                except asyncio.CancelledError:
                    code = "CANCELLED"
                    raise
                except BaseException:
                    code = "UNEXPECTED"
                    raise
                finally:
                    self._each(
                        "on_outcome", Outcome(operation, code, time.perf_counter() - started)
                    )
        finally:
            current_operation.reset(token)

    def retried(self, attempt: int, error: BaseException, delay: float) -> None:
        """A transient conflict: tell every hook."""
        if self._hooks:
            event = RetryEvent(current_operation.get(), attempt, type(error).__name__, delay)
            self._each("on_retry", event)

    def _each(self, method: str, event: object) -> None:
        for hook in self._hooks:
            try:
                getattr(hook, method)(event)
            except Exception:  # noqa: BLE001 - a hook never fails a call
                _log.exception("hook %r failed in %s", hook, method)


def observed(method: F) -> F:
    """Run a public service method through the service's :class:`Observer`."""
    operation = method.__name__

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        observer = self._observer
        if observer.silent:  # no hooks: only the operation's name, without a generator
            token = current_operation.set(operation)
            try:
                return method(self, *args, **kwargs)
            finally:
                current_operation.reset(token)
        with observer.observing(operation):
            return method(self, *args, **kwargs)

    return cast(F, call)


def observed_async(method: A) -> A:
    """:func:`observed` for a coroutine method: the hooks see the call until it is done."""
    operation = method.__name__

    @functools.wraps(method)
    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._observer.observing(operation):
            return await method(self, *args, **kwargs)

    return cast(A, call)
