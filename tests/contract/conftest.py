"""The contract suite runs on every backend, inside host transactions, and through asyncio.

Joined mode: every call inside a host transaction (savepoints, no retries). ``async-``: the
same backends served by ``AsyncReservationService`` through the asyncio drivers.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends import Backend
from tests.clock import Clock
from tests.conftest import ASYNC_NAMES, BACKEND_NAMES, make_backend

JOINED = [f"joined-{name}" for name in BACKEND_NAMES if name != "memory"]


@pytest.fixture(params=BACKEND_NAMES + JOINED + ASYNC_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend, each database in a host transaction, each backend through asyncio."""
    return make_backend(request, request.param)


@pytest.fixture
def clock() -> Clock:
    """The services' clock, moved by hand."""
    return Clock()


@pytest.fixture
def service(backend: Backend, clock: Clock) -> Any:
    """The backend's service (sync, or the async one seen through a blocking view)."""
    return backend.service(clock=clock)
