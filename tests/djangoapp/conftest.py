"""Each Django database alias in turn: ``default`` (SQLite), ``postgresql``, ``mariadb``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings

from tests.databases import unavailable

ALIASES = {"default": "sqlite", "postgresql": "postgresql", "mariadb": "mariadb"}


def alias_params(*, transaction: bool, servers_only: bool = False) -> list[Any]:
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
        if not (servers_only and name == "sqlite")
    ]


@pytest.fixture
def alias(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name not in settings.DATABASES:
        unavailable(ALIASES[name], "its URL variable is unset, so Django has no database")
    return name


@pytest.fixture
def booking_on(alias: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The example project booking on ``alias``, under ``ATOMIC_REQUESTS`` there only.

    Django opens a request transaction on every alias that asks for one; the others are
    left out, so that a SQLite ``default`` does not serialize requests booking elsewhere.
    """
    for name, database in connections.settings.items():
        monkeypatch.setitem(database, "ATOMIC_REQUESTS", name == alias)
    with override_settings(RESERVATION_CORE={"DATABASE": alias}):
        yield alias
