"""The clusters the failover storms run on: found by environment variables, never started here.

``nox -s failover`` (and CI) starts them with scripts/patroni.sh and scripts/galera.sh and
sets the variables; a plain ``pytest`` run without them does not collect this directory
(tests/conftest.py). Where
``RESERVATION_CORE_REQUIRE_FAILOVER`` names a cluster (``all``, ``postgresql``,
``haproxy``, ``galera``), a missing variable fails instead of skipping.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VARIABLES = {
    "postgresql": "RESERVATION_CORE_FAILOVER_POSTGRESQL_URL",
    "haproxy": "RESERVATION_CORE_FAILOVER_HAPROXY_URL",
    "galera": "RESERVATION_CORE_FAILOVER_GALERA_URLS",
}
REQUIRE_VARIABLE = "RESERVATION_CORE_REQUIRE_FAILOVER"
#: Where each storm's figures are appended (one JSON object a line), if set.
REPORT_VARIABLE = "RESERVATION_CORE_FAILOVER_REPORT"


def cluster(name: str) -> str:
    """The cluster's URL(s); skip (or fail, when required) if it is not set up."""
    value = os.environ.get(VARIABLES[name], "").strip()
    if value:
        return value
    wanted = {part.strip() for part in os.environ.get(REQUIRE_VARIABLE, "").split(",")}
    reason = f"set {VARIABLES[name]} (nox -s failover starts the cluster and sets it)"
    if "all" in wanted or name in wanted:
        pytest.fail(f"the {name} failover cluster is required but not set up: {reason}")
    pytest.skip(reason)


def report(name: str, figures: dict[str, object]) -> None:
    """Print the storm's figures, and append them to the report file if one is named."""
    line = json.dumps({"storm": name, **figures}, sort_keys=True)
    print(f"\nfailover storm {line}")
    path = os.environ.get(REPORT_VARIABLE)
    if path:
        with Path(path).open("a", encoding="utf-8") as file:
            file.write(line + "\n")
