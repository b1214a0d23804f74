"""Fixtures shared by every suite: the backend matrix and unique ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.backends import Backend, memory_backend

BACKEND_NAMES = ["memory"]


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each backend in turn; every test using it runs once per backend."""
    if request.param == "memory":
        yield memory_backend()
        return
    raise AssertionError(request.param)


@pytest.fixture
def new_id() -> Callable[[str], str]:
    """Fresh ids, so tests never collide on a shared database."""
    return lambda prefix="id": f"{prefix}-{uuid.uuid4().hex[:16]}"
