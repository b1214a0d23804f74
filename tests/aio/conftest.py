"""The asyncio suite: the async service's own behaviour, on every backend."""

from __future__ import annotations

import pytest

from tests.backends import Backend
from tests.conftest import ASYNC_NAMES, make_backend


@pytest.fixture(params=ASYNC_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend through ``AsyncReservationService``."""
    return make_backend(request, request.param)
