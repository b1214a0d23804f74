"""Only what is tested is accepted: an unknown database or driver is refused at once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, make_url
from sqlalchemy.dialects import mssql, oracle, postgresql
from sqlalchemy.dialects.mysql import asyncmy
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.adapters.sqlalchemy import AsyncSqlAlchemyUnitOfWork, SqlAlchemyUnitOfWork
from reservation_core.adapters.sqlalchemy._dialects import SUPPORTED


def _engine(dialect: Any, url: str) -> Engine:
    """An engine on a dialect object whose driver need not be installed (never connects)."""
    return Engine(NullPool(lambda: None), dialect, make_url(url))


class _SomeonesDriver(postgresql.psycopg.PGDialect_psycopg):
    driver = "someonesdriver"


@pytest.mark.parametrize(
    ("engine", "named"),
    [
        (_engine(oracle.dialect(), "oracle://scott@db/app"), "oracle+oracledb"),
        (_engine(mssql.dialect(), "mssql://sa@db/app"), "mssql+pyodbc"),
        (_engine(_SomeonesDriver(), "postgresql://app@db/app"), "postgresql+someonesdriver"),
    ],
    ids=["oracle", "mssql", "unknown-postgresql-driver"],
)
def test_an_unsupported_engine_is_refused_at_construction(engine: Engine, named: str) -> None:
    with pytest.raises(ValueError, match="does not support") as info:
        SqlAlchemyUnitOfWork(engine)
    message = str(info.value)
    assert "\n" not in message
    assert named in message
    for supported in (
        "postgresql (asyncpg, pg8000, psycopg, psycopg2)",
        "sqlite (aiosqlite, pysqlite)",
    ):
        assert supported in message
    assert "mysqldb" in SUPPORTED
    assert "mariadbconnector" in SUPPORTED
    assert "aiomysql" in SUPPORTED


def test_an_unsupported_asyncio_driver_is_refused_at_construction() -> None:
    """asyncmy: an asyncio driver SQLAlchemy has, which the library does not test."""
    engine = AsyncEngine(_engine(asyncmy.dialect(), "mysql+asyncmy://app@db/app"))
    with pytest.raises(ValueError, match="does not support mysql\\+asyncmy") as info:
        AsyncSqlAlchemyUnitOfWork(engine)
    assert "mysql (aiomysql, " in str(info.value)
    assert isinstance(info.value, BusinessException)


def test_through_the_service_it_is_a_business_exception() -> None:
    engine = _engine(oracle.dialect(), "oracle://scott@db/app")
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    with pytest.raises(BusinessException) as info:
        service.get_schedule("s1")
    assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert info.value.details["reason"] == "unsupported_database"
    assert info.value.details["dialect"] == "oracle"


@pytest.mark.parametrize("bind", [None, "sqlite:///x.db", object()])
def test_a_bind_that_is_no_engine_connection_or_session_is_refused(bind: object) -> None:
    with pytest.raises(ValueError, match="takes a SQLAlchemy Engine, Connection or Session"):
        SqlAlchemyUnitOfWork(bind)  # type: ignore[arg-type]
