"""recommended_engine_options and async_url: what each setup gets, and what it refuses."""

from __future__ import annotations

import pytest

from reservation_core.adapters.sqlalchemy import async_url, recommended_engine_options


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


@pytest.mark.parametrize(
    ("url", "driver", "expected"),
    [
        (
            "postgresql+psycopg://app:s3cret@db:5433/app?sslmode=require",
            None,
            "postgresql+asyncpg://app:s3cret@db:5433/app?sslmode=require",
        ),
        ("postgresql://app@db/app", None, "postgresql+asyncpg://app@db/app"),
        ("postgresql+psycopg2://app@db/app", "psycopg", "postgresql+psycopg://app@db/app"),
        ("postgresql+asyncpg://app@db/app", None, "postgresql+asyncpg://app@db/app"),
        ("mysql+pymysql://root@db/app", None, "mysql+aiomysql://root@db/app"),
        ("mariadb+mariadbconnector://root@db/app", None, "mariadb+aiomysql://root@db/app"),
        ("sqlite:///reservations.db", None, "sqlite+aiosqlite:///reservations.db"),
        ("sqlite+aiosqlite://", None, "sqlite+aiosqlite://"),
    ],
)
def test_async_url_keeps_the_database_and_picks_an_asyncio_driver(
    url: str, driver: str | None, expected: str
) -> None:
    made = async_url(url, driver=driver)
    assert made.render_as_string(hide_password=False) == expected
    assert made.get_dialect(_is_async=True).is_async  # create_async_engine takes it


@pytest.mark.parametrize(
    ("url", "driver", "message"),
    [
        ("oracle+oracledb://app@db/app", None, "does not support oracle"),
        ("postgresql://app@db/app", "psycopg2", "'psycopg2' is not an asyncio driver"),
        ("mysql+pymysql://root@db/app", "asyncmy", "'asyncmy' is not an asyncio driver"),
    ],
)
def test_async_url_refuses_what_the_library_does_not_support(
    url: str, driver: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        async_url(url, driver=driver)
