"""``manage.py migrate`` builds exactly ``metadata``, from the Alembic revisions, everywhere."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from sqlalchemy import Engine, create_engine, inspect, text

from reservation_core import OrderLine, ReservationStatus
from reservation_core.adapters.sqlalchemy import metadata
from reservation_core.contrib.django import get_service
from reservation_core.migrations import SCRIPT_DIRECTORY
from tests.counters import counter_errors
from tests.djangoapp.conftest import alias_params

each_alias = pytest.mark.parametrize("alias", alias_params(transaction=True), indirect=True)

NewId = Callable[[str], str]


def engine_of(alias: str) -> Engine:
    """A SQLAlchemy engine on the test database Django set up for ``alias``."""
    database = connections[alias].settings_dict
    if connections[alias].vendor == "sqlite":
        return create_engine(f"sqlite:///{database['NAME']}")
    scheme = "postgresql+psycopg" if connections[alias].vendor == "postgresql" else "mysql+pymysql"
    user, host, port = database["USER"], database["HOST"], database["PORT"]
    return create_engine(f"{scheme}://{user}@{host}{':' if port else ''}{port}/{database['NAME']}")


def rc_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                # The test database also holds Django's own tables.
                "include_name": lambda name, kind, _: kind != "table" or name.startswith("rc_"),
            },
        )
        return list(compare_metadata(context, metadata))


def rc_tables(engine: Engine) -> set[str]:
    return {name for name in inspect(engine).get_table_names() if name.startswith("rc_")}


@each_alias
def test_the_django_migrations_build_metadata_exactly_and_unapply(alias: str) -> None:
    engine = engine_of(alias)
    try:
        assert rc_tables(engine) == set(metadata.tables)
        assert rc_differences(engine) == []
        # Other tests' committed rows (holds, pools, waiting entries) would stop a
        # downgrade, as the revisions' own downgrades say: the schema is tested empty.
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
        call_command("migrate", "reservation_core", "zero", database=alias, verbosity=0)
        assert rc_tables(engine) == set()
        call_command("migrate", "reservation_core", database=alias, verbosity=0)
        assert rc_differences(engine) == []
    finally:
        engine.dispose()


@each_alias
def test_every_alembic_revision_has_its_django_migration(alias: str) -> None:
    revisions = {
        script.revision for script in ScriptDirectory(str(SCRIPT_DIRECTORY)).walk_revisions()
    }
    loader = MigrationLoader(connections[alias])
    django_migrations = {name for app, name in loader.disk_migrations if app == "reservation_core"}
    assert django_migrations == revisions
    applied = {name for app, name in loader.applied_migrations if app == "reservation_core"}
    assert applied == revisions


@pytest.mark.django_db
def test_the_models_need_no_new_migration() -> None:
    call_command("makemigrations", "reservation_core", check=True, dry_run=True, verbosity=0)


@each_alias
def test_migration_0006_upgrades_a_02_database_with_data(alias: str, new_id: NewId) -> None:
    """0006 (not atomic: PostgreSQL builds its index CONCURRENTLY) on 0.2 rows in use."""
    room, held = new_id("room"), str(uuid.uuid4())
    call_command("migrate", "reservation_core", "0005_rc_holds", database=alias, verbosity=0)
    engine = engine_of(alias)
    try:
        assert "rc_schedule_pools" not in rc_tables(engine)
        with engine.begin() as connection:  # the 0.2 schema, written as 0.2 wrote it
            connection.execute(
                text("INSERT INTO rc_schedules (id, capacity, reserved) VALUES (:id, 4, 1)"),
                {"id": room},
            )
            connection.execute(
                text(
                    "INSERT INTO rc_reservations (id, schedule_id, user_id, quantity, status, "
                    "created_at, updated_at, expires_at) VALUES "
                    "(:id, :room, 'ann', 1, 'HELD', :at, :at, :later)"
                ),
                {"id": held, "room": room, "at": "2026-01-01 12:00:00", "later": "2099-01-01"},
            )
        call_command("migrate", "reservation_core", database=alias, verbosity=0)
        assert rc_differences(engine) == []
    finally:
        engine.dispose()
    service, talk = get_service(alias), new_id("talk")
    kept = service.get_reservation(held)
    assert (kept.status, kept.order_id, kept.quantity) == (ReservationStatus.HELD, None, 1)
    assert service.get_schedule(room).pools == ()
    service.create_schedule(talk, 2, pools=[room])
    lines = service.create_order("bob", [OrderLine(talk, 2), OrderLine(room)])
    assert service.get_schedule(room).reserved == 4
    assert service.get_order(lines[0].order_id or "") == lines
    assert counter_errors(service, [room, talk]) == []
