"""The OpenTelemetry hooks, read back through the SDK's in-memory exporter and reader."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from reservation_core import BusinessException
from reservation_core.instrumentation.opentelemetry import OpenTelemetryHooks
from tests.backends import Backend
from tests.observability.test_hooks_and_logs import lock_held


@pytest.fixture
def telemetry() -> tuple[OpenTelemetryHooks, InMemorySpanExporter, InMemoryMetricReader]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    hooks = OpenTelemetryHooks(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[metrics])
    )
    return hooks, spans, metrics


def _points(reader: InMemoryMetricReader, name: str) -> dict[tuple[Any, ...], Any]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[tuple[Any, ...], Any] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        found[tuple(sorted(point.attributes.items()))] = point
    return found


def test_spans_and_counters_for_each_call(
    backend: Backend,
    new_id: Callable[[str], str],
    telemetry: tuple[OpenTelemetryHooks, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    hooks, spans, metrics = telemetry
    service = backend.service(hooks=hooks)
    sid = new_id("s")
    service.create_schedule(sid, 1)
    service.create_reservation(sid, "u1")
    with pytest.raises(BusinessException):
        service.create_reservation(sid, "u2")

    finished = spans.get_finished_spans()
    assert [span.name for span in finished] == [
        "reservation_core.create_schedule",
        "reservation_core.create_reservation",
        "reservation_core.create_reservation",
    ]
    assert [span.attributes["reservation_core.code"] for span in finished] == [
        "OK",
        "OK",
        "CAPACITY_EXCEEDED",
    ]
    assert finished[2].attributes["reservation_core.operation"] == "create_reservation"
    assert finished[2].status.status_code is StatusCode.UNSET  # a refusal is an answer
    assert finished[0].instrumentation_scope.name == "reservation_core"

    calls = _points(metrics, "reservation_core.calls")
    assert calls[(("code", "OK"), ("operation", "create_reservation"))].value == 1
    assert calls[(("code", "CAPACITY_EXCEEDED"), ("operation", "create_reservation"))].value == 1
    assert calls[(("code", "OK"), ("operation", "create_schedule"))].value == 1
    durations = _points(metrics, "reservation_core.call.duration")
    assert durations[(("code", "OK"), ("operation", "create_reservation"))].count == 1


def test_retries_are_counted_and_a_give_up_is_an_error_span(
    telemetry: tuple[OpenTelemetryHooks, InMemorySpanExporter, InMemoryMetricReader],
    new_id: Callable[[str], str],
    impatient: Backend,
) -> None:
    hooks, spans, metrics = telemetry
    service = impatient.service(hooks=hooks, max_attempts=3, max_concurrent_per_schedule=None)
    sid = new_id("s")
    service.create_schedule(sid, 5)
    with lock_held(impatient, sid, until=threading.Event()), pytest.raises(BusinessException):
        service.create_reservation(sid, "u1")

    span = spans.get_finished_spans()[-1]
    assert span.name == "reservation_core.create_reservation"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["reservation_core.code"] == "CONCURRENCY_CONFLICT"
    assert [event.name for event in span.events] == ["retry", "retry"]
    assert [event.attributes["reservation_core.attempt"] for event in span.events] == [1, 2]
    retries = _points(metrics, "reservation_core.retries")
    key = (("cause", "TransientConflict"), ("operation", "create_reservation"))
    assert retries[key].value == 2
