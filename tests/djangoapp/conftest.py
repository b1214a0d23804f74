"""Each Django database alias in turn: ``default`` (SQLite), ``postgresql``, ``mariadb``."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from tests.databases import unavailable

ALIASES = {"default": "sqlite", "postgresql": "postgresql", "mariadb": "mariadb"}


def alias_params(*, transaction: bool) -> list[Any]:
    """One parameter per alias, each with the ``django_db`` mark for its database.

    An alias whose URL is unset has no mark (there is no database to set up): the
    ``alias`` fixture then skips it, or fails it when the backend is required.
    """
    return [
        pytest.param(
            alias,
            id=name,
            marks=(
                [pytest.mark.django_db(databases=[alias], transaction=transaction)]
                if alias in settings.DATABASES
                else []
            ),
        )
        for alias, name in ALIASES.items()
    ]


@pytest.fixture
def alias(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name not in settings.DATABASES:
        unavailable(ALIASES[name], "its URL variable is unset, so Django has no database")
    return name
