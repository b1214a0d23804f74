"""The shipped Alembic branch builds exactly ``metadata`` on every database, and undoes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from reservation_core import BusinessException, ReservationService, migrations
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, audit, metadata
from tests.databases import make_engine, separate_database_url

DATABASE = "rc_migrations"


def _separate_database(name: str, tmp_path: Path) -> Engine:
    if name == "sqlite":
        return make_engine(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
    return make_engine(separate_database_url(name, DATABASE))


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine = _separate_database(request.param, tmp_path)
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {migrations.VERSION_TABLE}"))
    yield engine
    engine.dispose()


def _rc_tables(engine: Engine) -> set[str]:
    return {name for name in inspect(engine).get_table_names() if name.startswith("rc_")}


def test_upgrade_builds_metadata_exactly_and_downgrade_removes_it(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    assert _rc_tables(empty_engine) == set(metadata.tables) | {migrations.VERSION_TABLE}
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": migrations.VERSION_TABLE}
        )
        assert compare_metadata(context, metadata) == []
        assert context.get_current_heads() == ("0003_rc_holds",)

    service = ReservationService(lambda: SqlAlchemyUnitOfWork(empty_engine))
    service.create_schedule("migrated", 1)
    reservation = service.create_reservation("migrated", "u", idempotency_key="k")
    assert service.create_reservation("migrated", "u", idempotency_key="k") == reservation

    migrations.downgrade(empty_engine, "0001_rc_schedules")
    assert "rc_idempotency_keys" not in _rc_tables(empty_engine)
    migrations.downgrade(empty_engine)
    assert _rc_tables(empty_engine) == {migrations.VERSION_TABLE}


def _schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": migrations.VERSION_TABLE}
        )
        return list(compare_metadata(context, metadata))


def test_holds_revision_upgrades_a_database_with_data(empty_engine: Engine) -> None:
    """0003 from 0002 keeps every row, and the new guard covers holds and old bookings."""
    migrations.upgrade(empty_engine, "0002_rc_idempotency_keys")
    stamp = "2026-01-01 12:00:00.000001"
    with empty_engine.begin() as connection:
        connection.execute(
            text("INSERT INTO rc_schedules (id, capacity, reserved) VALUES ('old', 3, 2)")
        )
        for rid, user, status in [
            ("00000000-0000-0000-0000-000000000001", "ann", "CONFIRMED"),
            ("00000000-0000-0000-0000-000000000002", "bob", "CONFIRMED"),
            ("00000000-0000-0000-0000-000000000003", "ann", "CANCELLED"),
        ]:
            connection.execute(
                text(
                    "INSERT INTO rc_reservations (id, schedule_id, user_id, quantity, status, "
                    "created_at, updated_at) VALUES (:id, 'old', :user, 1, :status, :at, :at)"
                ),
                {"id": rid, "user": user, "status": status, "at": stamp},
            )
    migrations.upgrade(empty_engine)
    assert _schema_differences(empty_engine) == []

    service = ReservationService(lambda: SqlAlchemyUnitOfWork(empty_engine))
    kept = service.get_reservation("00000000-0000-0000-0000-000000000001")
    assert (kept.user_id, kept.status, kept.expires_at) == ("ann", "CONFIRMED", None)
    assert kept.created_at.microsecond == 1
    page = service.list_reservations(schedule_id="old")
    assert [r.status for r in page.items] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    with pytest.raises(BusinessException) as info:  # the old booking is active
        service.hold_reservation("old", "ann")
    assert info.value.details == {"reservation_id": kept.id}
    hold = service.hold_reservation("old", "cy")
    assert service.get_schedule("old").remaining == 0
    assert audit(empty_engine).consistent

    with pytest.raises(RuntimeError, match="HELD or EXPIRED"):
        migrations.downgrade(empty_engine, "0002_rc_idempotency_keys")
    service.confirm_reservation(hold.id)
    migrations.downgrade(empty_engine, "0002_rc_idempotency_keys")
    with empty_engine.connect() as connection:
        count = connection.execute(text("SELECT COUNT(*) FROM rc_reservations")).scalar_one()
    assert count == 4


def test_upgrade_is_idempotent(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    migrations.upgrade(empty_engine)
    assert _rc_tables(empty_engine) == set(metadata.tables) | {migrations.VERSION_TABLE}


def test_offline_sql_names_every_table(empty_engine: Engine) -> None:
    script = migrations.upgrade(empty_engine.url.render_as_string(False), sql=True)
    for table in metadata.tables:
        assert f"CREATE TABLE {table}" in script
    assert _rc_tables(empty_engine) == set()


def test_branch_is_usable_from_a_host_alembic(empty_engine: Engine, tmp_path: Path) -> None:
    """A host adds the package's versions to its own version_locations."""
    from alembic import command
    from alembic.config import Config

    host = tmp_path / "host_migrations"
    (host / "versions").mkdir(parents=True)
    (host / "env.py").write_text(
        "from alembic import context\n"
        "with context.config.attributes['engine'].connect() as connection:\n"
        "    context.configure(connection=connection, target_metadata=None)\n"
        "    with context.begin_transaction():\n"
        "        context.run_migrations()\n"
    )
    config = Config()
    config.set_main_option("script_location", str(host))
    config.set_main_option(
        "version_locations", f"{host / 'versions'} {migrations.VERSIONS_DIRECTORY}"
    )
    config.set_main_option("path_separator", "space")
    config.attributes["engine"] = empty_engine
    command.upgrade(config, "reservation_core@head")
    assert set(metadata.tables) <= _rc_tables(empty_engine)
    assert "alembic_version" in inspect(empty_engine).get_table_names()
    command.downgrade(config, "reservation_core@base")
    assert _rc_tables(empty_engine) == set()
    with empty_engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
