"""The stateful suite runs on every backend, and on each again through asyncio."""

from __future__ import annotations

import pytest

from tests.backends import Backend
from tests.conftest import ASYNC_NAMES, BACKEND_NAMES, make_backend


@pytest.fixture(params=BACKEND_NAMES + ASYNC_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend, then each through ``AsyncReservationService`` (tasks, not threads)."""
    return make_backend(request, request.param)
