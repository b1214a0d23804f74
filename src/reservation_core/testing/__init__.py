"""A testing kit for ``reservation_core`` and the services built on it (needs Hypothesis).

Install it with the ``testing`` extra: ``pip install "reservation-core[testing]"``.
``import reservation_core`` never imports Hypothesis; only this subpackage does.

* :func:`build_state_machine` checks any ``ReservationService`` (in memory, or wired to your
  database) against the library's contract, with a pure model and the seat invariant.
* :mod:`reservation_core.testing.strategies`: Hypothesis strategies for valid and invalid
  arguments (ids, capacities, quantities), re-exported here.

See docs/testing-kit.md for complete examples.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401 - fail early, with the fix in the message
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'reservation_core.testing needs Hypothesis: pip install "reservation-core[testing]"'
    ) from exc

from reservation_core.testing.machine import build_state_machine
from reservation_core.testing.strategies import (
    MAX_COUNT,
    MAX_ID_LENGTH,
    invalid_capacities,
    invalid_hold_durations,
    invalid_ids,
    invalid_quantities,
    valid_capacities,
    valid_ids,
    valid_quantities,
)

__all__ = [
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "build_state_machine",
    "invalid_capacities",
    "invalid_hold_durations",
    "invalid_ids",
    "invalid_quantities",
    "valid_capacities",
    "valid_ids",
    "valid_quantities",
]
