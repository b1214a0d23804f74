"""Calls of the service seen by its hooks: a context per call, retries, outcomes (private)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any, TypeVar, cast

from reservation_core._retry import current_operation
from reservation_core.errors import BusinessException
from reservation_core.instrumentation import Hooks, Outcome, RetryEvent

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_log = logging.getLogger("reservation_core.instrumentation")


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

    def call(self, operation: str, function: Callable[[], T]) -> T:
        """Run ``function`` as the service method ``operation``."""
        token = current_operation.set(operation)
        try:
            if not self._hooks:
                return function()
            with ExitStack() as stack:
                for hook in self._hooks:
                    stack.enter_context(_Guarded(hook, operation))
                started, code = time.perf_counter(), "OK"
                try:
                    return function()
                except BusinessException as error:
                    code = str(error.code)
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
        observer: Observer = self._observer
        return observer.call(operation, lambda: method(self, *args, **kwargs))

    return cast(F, call)
