"""OpenTelemetry for the service: a span per call, counters of outcomes and retries.

Needs the ``otel`` extra (``opentelemetry-api`` only: your application brings the SDK and
its exporters)::

    from reservation_core.instrumentation.opentelemetry import OpenTelemetryHooks

    service = ReservationService(factory, hooks=OpenTelemetryHooks())

Each call is a span named ``reservation_core.<method>`` (for example
``reservation_core.create_reservation``), current while the call runs, so the database
spans of an instrumented driver nest under it. The span carries
``reservation_core.operation`` and ``reservation_core.code`` (``OK`` or the error code); a
retry is a span event ``retry`` with the attempt and its cause. A call
that ended in ``CONCURRENCY_CONFLICT`` or ``STORAGE_UNAVAILABLE`` has the span status
``ERROR``; a business refusal (``CAPACITY_EXCEEDED``, ...) is a normal answer and leaves it
unset.

Metrics (a meter named ``reservation_core``):

* ``reservation_core.calls`` (counter): calls, by ``operation`` and ``code``;
* ``reservation_core.retries`` (counter): retries, by ``operation`` and ``cause``;
* ``reservation_core.call.duration`` (histogram, seconds): by ``operation`` and ``code``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import metrics, trace

from reservation_core._version import __version__
from reservation_core.instrumentation import Hooks, Outcome, RetryEvent

__all__ = ["OpenTelemetryHooks"]

_FAILED = frozenset({"CONCURRENCY_CONFLICT", "STORAGE_UNAVAILABLE", "UNEXPECTED"})


class OpenTelemetryHooks(Hooks):
    """Spans and metrics for every call of the service.

    Args:
        tracer_provider: where spans go; the global provider by default.
        meter_provider: where metrics go; the global provider by default.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer("reservation_core", __version__, tracer_provider)
        meter = metrics.get_meter("reservation_core", __version__, meter_provider)
        self._calls = meter.create_counter(
            "reservation_core.calls", unit="{call}", description="Service calls by outcome"
        )
        self._retries = meter.create_counter(
            "reservation_core.retries",
            unit="{retry}",
            description="Use cases run again after a transient conflict",
        )
        self._duration = meter.create_histogram(
            "reservation_core.call.duration", unit="s", description="Service call duration"
        )

    def on_call(self, operation: str) -> AbstractContextManager[Any]:
        """The call's span, current while it runs."""
        return self._tracer.start_as_current_span(
            f"reservation_core.{operation}",
            kind=trace.SpanKind.INTERNAL,
            attributes={"reservation_core.operation": operation},
            # A business refusal leaves through the span as an exception; on_outcome
            # decides the status from its code.
            record_exception=False,
            set_status_on_exception=False,
        )

    def on_retry(self, event: RetryEvent) -> None:
        """Count the retry and note it on the call's span."""
        self._retries.add(1, {"operation": event.operation, "cause": event.cause})
        trace.get_current_span().add_event(
            "retry",
            {"reservation_core.attempt": event.attempt, "reservation_core.cause": event.cause},
        )

    def on_outcome(self, outcome: Outcome) -> None:
        """Count the outcome and put its code on the call's span."""
        attributes = {"operation": outcome.operation, "code": outcome.code}
        self._calls.add(1, attributes)
        self._duration.record(outcome.duration, attributes)
        span = trace.get_current_span()
        span.set_attribute("reservation_core.code", outcome.code)
        if outcome.code in _FAILED:
            span.set_status(trace.Status(trace.StatusCode.ERROR, outcome.code))
