"""Where the scale-out setups are: a Galera cluster and PgBouncer, named by URL.

``RESERVATION_CORE_GALERA_URLS`` lists the nodes of a MariaDB Galera cluster (comma
separated, e.g. the output of ``scripts/galera.sh urls``); ``RESERVATION_CORE_PGBOUNCER_URL``
names a PostgreSQL database through PgBouncer in transaction pooling mode
(``scripts/pgbouncer.sh url``). The suites wipe the ``rc_`` tables there. With neither set
(nor required), tests/conftest.py does not collect this folder at all; with one set, the
other's tests skip unless ``RESERVATION_CORE_REQUIRE_BACKENDS`` names it (``all`` means the
four everyday backends only): then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from reservation_core.adapters.sqlalchemy import metadata, recommended_engine_options
from tests.databases import REQUIRE_VARIABLE, make_engine

GALERA_VARIABLE = "RESERVATION_CORE_GALERA_URLS"
PGBOUNCER_VARIABLE = "RESERVATION_CORE_PGBOUNCER_URL"


def _setting(name: str, variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if value:
        return value
    named = {part.strip() for part in os.environ.get(REQUIRE_VARIABLE, "").split(",")}
    reason = f"{name} unavailable: set {variable} (scripts/{name}.sh start)"
    if name in named:
        pytest.fail(f"{name} is required ({REQUIRE_VARIABLE}) but {reason}")
    pytest.skip(reason)
    raise AssertionError("unreachable")  # pragma: no cover


def _fresh_schema(engine: Engine) -> None:
    metadata.drop_all(engine)
    metadata.create_all(engine)


@pytest.fixture(scope="session")
def galera_urls() -> list[str]:
    """The node URLs, after a check that all of them are synced members of one cluster."""
    urls = [url.strip() for url in _setting("galera", GALERA_VARIABLE).split(",")]
    assert len(urls) >= 2, f"{GALERA_VARIABLE} lists one node: {urls}"
    for url in urls:
        engine = make_engine(url)
        with engine.connect() as connection:
            status = dict(
                connection.execute(
                    text(
                        "SHOW STATUS WHERE Variable_name IN "
                        "('wsrep_cluster_size', 'wsrep_local_state_comment')"
                    )
                ).all()
            )
        engine.dispose()
        assert status.get("wsrep_local_state_comment") == "Synced", (url, status)
        assert int(status["wsrep_cluster_size"]) == len(urls), (url, status)
    # DDL replicates to every node (total order isolation).
    engine = make_engine(urls[0])
    _fresh_schema(engine)
    engine.dispose()
    return urls


@pytest.fixture(scope="session")
def galera_engines(galera_urls: list[str]) -> Iterator[list[Engine]]:
    """One engine per node for the tests' own checks, with causal reads for all queries."""
    engines = [
        make_engine(url, **recommended_engine_options(url, galera=True)) for url in galera_urls
    ]
    yield engines
    for engine in engines:
        engine.dispose()


@pytest.fixture(scope="session")
def pgbouncer_url() -> str:
    """The URL through PgBouncer, after a check that it pools transactions."""
    url = _setting("pgbouncer", PGBOUNCER_VARIABLE)
    engine = make_engine(url, **recommended_engine_options(url, pgbouncer=True))
    with engine.connect() as connection:
        answering = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        reported = connection.connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
    assert answering != reported, f"{url} reaches PostgreSQL directly, not through PgBouncer"
    _fresh_schema(engine)
    engine.dispose()
    return url
