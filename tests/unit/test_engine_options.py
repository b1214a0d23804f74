"""recommended_engine_options: what each setup gets, and what it refuses."""

from __future__ import annotations

import pytest

from reservation_core.adapters.sqlalchemy import recommended_engine_options


@pytest.mark.parametrize(
    ("url", "options", "expected"),
    [
        ("sqlite:///r.db", {}, {}),
        ("postgresql+psycopg://app@db/app", {}, {}),
        ("mysql+pymysql://app@db/app", {}, {"isolation_level": "READ COMMITTED"}),
        # An engine of the library's own: a booking and its COMMIT in one query.
        (
            "mysql+pymysql://app@db/app",
            {"dedicated": True},
            {
                "isolation_level": "READ COMMITTED",
                "pool_reset_on_return": None,
                "connect_args": {"client_flag": 2 | 1 << 16},
            },
        ),
        (
            "mysql+mysqldb://app@db/app",
            {"dedicated": True},
            {"isolation_level": "READ COMMITTED", "pool_reset_on_return": None},
        ),
        (
            "postgresql+psycopg://app@pgbouncer/app",
            {"pgbouncer": True},
            {"connect_args": {"prepare_threshold": None}},
        ),
        (
            "postgresql+psycopg://app@pgbouncer/app",
            {"pgbouncer": True, "dedicated": True},
            {"pool_reset_on_return": None, "connect_args": {"prepare_threshold": None}},
        ),
        # psycopg2 and pg8000 never prepare named statements: nothing to switch off.
        ("postgresql+psycopg2://app@pgbouncer/app", {"pgbouncer": True}, {}),
        (
            "mariadb+pymysql://app@node1/app",
            {"galera": True},
            {
                "isolation_level": "READ COMMITTED",
                "connect_args": {"init_command": "SET SESSION wsrep_sync_wait = 3"},
            },
        ),
    ],
)
def test_recommended_engine_options(url: str, options: dict[str, bool], expected: object) -> None:
    assert recommended_engine_options(url, **options) == expected


@pytest.mark.parametrize(
    ("url", "option"),
    [
        ("mysql+pymysql://app@db/app", "pgbouncer"),
        ("sqlite:///r.db", "pgbouncer"),
        ("postgresql+psycopg://app@db/app", "galera"),
        ("sqlite:///r.db", "galera"),
    ],
)
def test_an_option_for_another_database_is_refused(url: str, option: str) -> None:
    with pytest.raises(ValueError, match=f"{option}=True is for"):
        recommended_engine_options(url, **{option: True})
