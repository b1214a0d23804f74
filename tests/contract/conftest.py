"""The contract suite also runs inside host transactions (joined mode) on every database."""

from __future__ import annotations

import pytest

from tests.backends import Backend
from tests.conftest import BACKEND_NAMES, make_backend

JOINED = [f"joined-{name}" for name in BACKEND_NAMES if name != "memory"]


@pytest.fixture(params=BACKEND_NAMES + JOINED)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend, then each database again with every call in a host transaction."""
    return make_backend(request, request.param)
