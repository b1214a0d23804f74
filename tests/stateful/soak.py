"""Hypothesis settings for the stateful suite, and the soak switch.

``RESERVATION_CORE_SOAK=1`` runs every stateful test with :data:`SOAK_EXAMPLES` examples of
:data:`SOAK_STEPS` steps; ``RESERVATION_CORE_SOAK=<n>`` (n > 1) with ``n`` examples.
Unset, empty or ``0``: the quick CI sizes each test asks for. While soaking, the stateful
tests have no per-test timeout.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

SOAK_VARIABLE = "RESERVATION_CORE_SOAK"
SOAK_EXAMPLES = 2_000
SOAK_STEPS = 100


def soak_examples() -> int | None:
    """How many examples the soak asks for, or ``None`` when it is off."""
    raw = os.environ.get(SOAK_VARIABLE, "").strip()
    if raw in ("", "0"):
        return None
    try:
        number = int(raw)
    except ValueError:
        raise ValueError(f"{SOAK_VARIABLE} must be 0, 1 or a number of examples") from None
    return SOAK_EXAMPLES if number == 1 else number


def stateful_settings(backend_name: str, *, max_examples: int, steps: int = 30) -> settings:
    """CI-sized settings (or the soak's), with what a database backend needs."""
    soak = soak_examples()
    return settings(
        max_examples=soak or max_examples,
        stateful_step_count=SOAK_STEPS if soak else steps,
        deadline=None,  # a database round trip is not a bug
        # Slow data generation is the database's latency, not a strategy problem.
        suppress_health_check=[] if backend_name == "memory" else [HealthCheck.too_slow],
    )


def soak_marks() -> list[pytest.MarkDecorator]:
    """Marks for a stateful test module: no per-test timeout while soaking."""
    return [pytest.mark.timeout(0)] if soak_examples() else []
