"""The ``impatient`` backends are shared by the hook and OpenTelemetry tests."""

from tests.observability.test_hooks_and_logs import impatient

__all__ = ["impatient"]
