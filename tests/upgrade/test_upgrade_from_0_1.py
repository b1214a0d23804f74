"""A database that reservation_core 0.1 built, data and all, upgrades to head and keeps its rules.

The contract suite on such upgraded databases is ``nox -s release_check`` (it runs
``tests/contract`` with ``RESERVATION_CORE_TEST_SCHEMA=0.1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from reservation_core import (
    BusinessException,
    ErrorCode,
    Reservation,
    ReservationService,
    ReservationStatus,
    Schedule,
    migrations,
)
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, audit, metadata
from tests.databases import make_engine, separate_database_url
from tests.upgrade import frozen

DATABASE = "rc_upgrade"
ALICE = "00000000-0000-4000-8000-000000000001"
BOB = "00000000-0000-4000-8000-000000000002"
CAROL = "00000000-0000-4000-8000-000000000003"
#: Half an hour after the 0.1 data was written: its idempotency key is still live.
NOW = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own, for schemas built and dropped at will."""
    name: str = request.param
    if name == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'upgrade.sqlite3'}")
    else:
        engine = make_engine(separate_database_url(name, DATABASE))
    yield engine
    engine.dispose()


@pytest.fixture
def upgraded(engine: Engine) -> Engine:
    """The database as 0.1 left it, data and all, migrated to head."""
    frozen.load_0_1(engine)
    migrations.upgrade(engine)
    return engine


def test_the_revisions_of_0_1_still_create_the_frozen_schema(engine: Engine) -> None:
    """An old revision is never edited: a schema change is a new revision."""
    frozen.drop_everything(engine)
    migrations.upgrade(engine, frozen.HEAD_0_1)
    built_by_revisions = frozen.describe(engine)
    frozen.load_0_1(engine, data=False)
    assert built_by_revisions == frozen.describe(engine), (
        f"Revisions up to {frozen.HEAD_0_1} no longer create what tests/upgrade/schema_0_1/"
        f"{frozen.dialect_of(engine)}.sql holds: databases built by 0.1 would differ from new "
        "ones. Undo the change to the old revision and write a new revision instead."
    )


def _service(engine: Engine, now: datetime = NOW) -> ReservationService:
    return ReservationService(lambda: SqlAlchemyUnitOfWork(engine), clock=lambda: now)


def test_upgrade_reaches_head_and_the_schema_equals_metadata(upgraded: Engine) -> None:
    heads = ScriptDirectory(str(migrations.SCRIPT_DIRECTORY)).get_heads()
    with upgraded.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": migrations.VERSION_TABLE}
        )
        assert set(context.get_current_heads()) == set(heads)
        assert compare_metadata(context, metadata) == []


def test_the_0_1_rows_read_back_exactly(upgraded: Engine) -> None:
    service = _service(upgraded)
    assert service.get_schedule("yoga-monday-0900") == Schedule("yoga-monday-0900", 10, 3)
    assert service.get_schedule("café-☕-😀") == Schedule("café-☕-😀", 1, 1)
    assert [service.get_schedule(sid).capacity for sid in ("a", "A", "a ")] == [5, 6, 7]
    at = datetime(2026, 1, 1, 12, 0, 0, 1, tzinfo=UTC)
    assert service.get_reservation(ALICE, user_id="alice") == Reservation(
        ALICE, "yoga-monday-0900", "alice", 2, ReservationStatus.CONFIRMED, at, at
    )
    carol = service.get_reservation(CAROL)
    assert carol.status is ReservationStatus.CANCELLED
    assert carol.updated_at == datetime(2026, 1, 1, 12, 5, 30, 999999, tzinfo=UTC)
    assert audit(upgraded).consistent


def test_the_0_1_rows_keep_their_rules(upgraded: Engine) -> None:
    service = _service(upgraded)
    replay = service.create_reservation(
        "yoga-monday-0900", "alice", quantity=2, idempotency_key="checkout-7f3a"
    )
    assert replay.id == ALICE
    assert service.get_schedule("yoga-monday-0900").reserved == 3

    with pytest.raises(BusinessException) as reused:
        service.create_reservation("yoga-monday-0900", "alice", idempotency_key="checkout-7f3a")
    assert reused.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    with pytest.raises(BusinessException) as duplicate:
        service.create_reservation("yoga-monday-0900", "alice")
    assert duplicate.value.details == {"reservation_id": ALICE}
    with pytest.raises(BusinessException) as full:
        service.create_reservation("sold-out", "frank")
    assert full.value.code is ErrorCode.CAPACITY_EXCEEDED
    with pytest.raises(BusinessException) as refused:
        service.refund_reservation(CAROL)
    assert refused.value.code is ErrorCode.INVALID_STATE_TRANSITION

    assert service.cancel_reservation(BOB, user_id="bob").status is ReservationStatus.CANCELLED
    assert service.get_schedule("yoga-monday-0900").reserved == 2
    assert service.create_reservation("A", "alice", quantity=6).quantity == 6
    assert service.get_schedule("a").reserved == 0
    assert audit(upgraded).consistent


def test_the_0_1_idempotency_key_expires_on_time(upgraded: Engine) -> None:
    written = datetime(2026, 1, 1, 12, 0, 0, 1, tzinfo=UTC)
    ttl = timedelta(days=1)
    assert (
        _service(upgraded, written + ttl - timedelta(seconds=1)).purge_expired_idempotency_keys()
        == 0
    )
    assert (
        _service(upgraded, written + ttl + timedelta(seconds=1)).purge_expired_idempotency_keys()
        == 1
    )
