"""Hooks that let the people running the service see it: calls, retries, outcomes.

The library logs to ``logging.getLogger("reservation_core")`` and its children (retries
at ``INFO``, give-ups, unknown outcomes and seat-count drift at ``WARNING``; nothing per
successful call). For metrics and traces, give the service one or more :class:`Hooks`::

    service = ReservationService(factory, hooks=[MyMetrics()])

:class:`Hooks` is a base class whose methods do nothing; override the ones you need.
``reservation_core.instrumentation.opentelemetry.OpenTelemetryHooks`` (extra ``otel``) is
one, for OpenTelemetry. A hook that raises is logged and ignored: instrumentation never
fails a booking. Events carry ids and codes only, never personal data.
"""

from __future__ import annotations

import contextlib
import dataclasses
from contextlib import AbstractContextManager

__all__ = ["Hooks", "Outcome", "RetryEvent"]


@dataclasses.dataclass(frozen=True, slots=True)
class RetryEvent:
    """A use case met a transient conflict and is about to run again.

    Attributes:
        operation: the service method, e.g. ``"create_reservation"``.
        attempt: the attempt that failed, from 1.
        cause: what failed it: the conflict's class name (``"TransientConflict"``,
            ``"IdempotencyKeyTaken"``, ``"ConnectionLost"``).
        delay: the seconds it waits before the next attempt.
    """

    operation: str
    attempt: int
    cause: str
    delay: float


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """How a call of a service method ended.

    Attributes:
        operation: the service method, e.g. ``"refund_reservation"``.
        code: ``"OK"``, or the ``ErrorCode`` of the ``BusinessException`` it raised.
        duration: the call's wall time in seconds, retries and waits included.
    """

    operation: str
    code: str
    duration: float

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.code == "OK"


class Hooks:
    """Callbacks around every call of a ``ReservationService``; each does nothing here.

    Examples:
        >>> from collections import Counter
        >>> class CountOutcomes(Hooks):
        ...     def __init__(self) -> None:
        ...         self.seen: Counter[str] = Counter()
        ...     def on_outcome(self, outcome: Outcome) -> None:
        ...         self.seen[outcome.code] += 1
    """

    def on_call(self, operation: str) -> AbstractContextManager[object]:
        """A context the whole call runs in (a tracing span, say); entered first."""
        return contextlib.nullcontext()

    def on_retry(self, event: RetryEvent) -> None:
        """A transient conflict; the use case runs again after ``event.delay``."""

    def on_outcome(self, outcome: Outcome) -> None:
        """The call ended; runs inside :meth:`on_call`'s context."""
