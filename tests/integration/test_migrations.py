"""The shipped Alembic branch builds exactly ``metadata`` on every database, and undoes it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from packaging.requirements import Requirement
from sqlalchemy import Engine, String, inspect, text
from sqlalchemy.schema import DropIndex

from reservation_core import (
    BusinessException,
    ErrorCode,
    OrderLine,
    Reservation,
    ReservationService,
    ReservationStatus,
    migrations,
)
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, audit, metadata, tables
from reservation_core.adapters.sqlalchemy._statements import reservation_row
from tests.databases import make_engine, separate_database_url

DATABASE = "rc_migrations"


HEAD = "0007_rc_waitlists"


def _empty_database(name: str, tmp_path: Path, database: str = DATABASE) -> Engine:
    if name == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / f'{database}.sqlite3'}")
    else:
        engine = make_engine(separate_database_url(name, database))
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {migrations.VERSION_TABLE}"))
    return engine


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine = _empty_database(request.param, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def created_engine(empty_engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A second empty database on the same backend, for metadata.create_all."""
    engine = _empty_database(
        empty_engine.dialect.name.replace("mysql", "mariadb"), tmp_path, f"{DATABASE}_created"
    )
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
        assert context.get_current_heads() == (HEAD,)
    assert migrations.schema_differences(empty_engine) == []

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
    # Revisions after 0005 may have been undone before it refused (without transactional
    # DDL): back to head, as an operator would after fixing what it named.
    migrations.upgrade(empty_engine)
    service.confirm_reservation(hold.id)
    migrations.downgrade(empty_engine, "0002_rc_idempotency_keys")
    with empty_engine.connect() as connection:
        count = connection.execute(text("SELECT COUNT(*) FROM rc_reservations")).scalar_one()
    assert count == 4


def test_orders_and_pools_revision_upgrades_a_02_database_with_data(
    empty_engine: Engine,
) -> None:
    """0006 on a 0.2 database (at 0005) in use: rows kept, pools and orders work at once."""
    migrations.upgrade(empty_engine, "0005_rc_holds")
    with empty_engine.begin() as connection:  # the 0.2 schema, written as 0.2 wrote it
        connection.execute(
            text("INSERT INTO rc_schedules (id, capacity, reserved) VALUES ('room', 4, 1)")
        )
        connection.execute(
            text(
                "INSERT INTO rc_reservations (id, schedule_id, user_id, quantity, status, "
                "created_at, updated_at, expires_at) VALUES "
                "('00000000-0000-0000-0000-000000000001', 'room', 'ann', 1, 'HELD', "
                ":at, :at, :later)"
            ),
            {"at": "2026-01-01 12:00:00.000001", "later": "2099-01-01 00:00:00"},
        )
    migrations.upgrade(empty_engine)
    assert _schema_differences(empty_engine) == []
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(empty_engine))
    kept = service.get_reservation("00000000-0000-0000-0000-000000000001")
    assert (kept.status, kept.order_id) == ("HELD", None)
    assert service.get_schedule("room").pools == ()
    service.create_schedule("talk", 2, pools=["room"])
    lines = service.create_order("bob", [OrderLine("talk", 2), OrderLine("room")])
    assert service.get_schedule("room").reserved == 4
    assert service.get_order(lines[0].order_id or "") == lines
    assert audit(empty_engine).consistent

    with pytest.raises(RuntimeError, match="rc_schedule_pools"):
        migrations.downgrade(empty_engine, "0005_rc_holds")


def test_orders_and_pools_revision_downgrades_without_pools(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(empty_engine))
    service.create_schedule("talk", 2)
    service.create_order("bob", [OrderLine("talk")])
    migrations.downgrade(empty_engine, "0005_rc_holds")
    with empty_engine.connect() as connection:
        count = connection.execute(text("SELECT COUNT(*) FROM rc_reservations")).scalar_one()
    assert count == 1


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
    (host / "env.py").write_text(  # a host whose own naming convention differs
        "from alembic import context\n"
        "from sqlalchemy import MetaData\n"
        "convention = {'ck': 'ck_%(table_name)s_%(constraint_name)s', 'ix': 'i_%(table_name)s'}\n"
        "target_metadata = MetaData(naming_convention=convention)\n"
        "with context.config.attributes['engine'].connect() as connection:\n"
        "    context.configure(connection=connection, target_metadata=target_metadata)\n"
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
    assert migrations.schema_differences(empty_engine) == []
    assert "alembic_version" in inspect(empty_engine).get_table_names()
    command.downgrade(config, "reservation_core@base")
    assert _rc_tables(empty_engine) == set()
    with empty_engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))


def _names(engine: Engine) -> dict[str, dict[str, object]]:
    """Every name the database gives the rc_ tables' constraints and indexes."""
    inspector = inspect(engine)
    return {
        table: {
            "check": sorted(c["name"] for c in inspector.get_check_constraints(table)),
            "foreign key": sorted(c["name"] for c in inspector.get_foreign_keys(table)),
            "primary key": inspector.get_pk_constraint(table)["name"],
            "index": sorted(str(i["name"]) for i in inspector.get_indexes(table)),
            "unique": sorted(str(u["name"]) for u in inspector.get_unique_constraints(table)),
        }
        for table in metadata.tables
        if inspector.has_table(table)
    }


def test_migrated_and_created_tables_have_the_same_names(
    empty_engine: Engine, created_engine: Engine
) -> None:
    migrations.upgrade(empty_engine)
    metadata.create_all(created_engine)
    migrated = _names(empty_engine)
    assert migrated == _names(created_engine)
    assert migrated["rc_schedules"]["check"] == [
        "ck_rc_schedules_capacity",
        "ck_rc_schedules_reserved",
    ]


@pytest.mark.parametrize("name", ["postgresql", "mariadb"])  # SQLite: a rebuild, online only
def test_offline_sql_names_constraints_as_create_all(name: str, tmp_path: Path) -> None:
    """The SQL a DBA reviews and runs (``migrate --sql``) builds the same names too."""
    empty_engine = _empty_database(name, tmp_path)
    created_engine = _empty_database(name, tmp_path, f"{DATABASE}_created")
    script = migrations.upgrade(empty_engine, sql=True)
    # As psql runs it: its own BEGIN and COMMIT, and what must run outside a transaction
    # (CREATE INDEX CONCURRENTLY) between them.
    with empty_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for statement in script.split(";\n"):
            if statement.strip():
                connection.exec_driver_sql(statement)
    metadata.create_all(created_engine)
    assert _names(empty_engine) == _names(created_engine)
    empty_engine.dispose()
    created_engine.dispose()


def _stamp(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations.SCRIPT_DIRECTORY))
    config.attributes["engine"] = engine
    command.stamp(config, revision)


def test_an_early_database_gets_its_check_constraints_renamed(empty_engine: Engine) -> None:
    """Early builds of revision 0001 named them ck_rc_schedules_ck_rc_schedules_capacity."""
    migrations.upgrade(empty_engine, "0002_rc_idempotency_keys")  # what 0.1 built
    assert _names(empty_engine)["rc_schedules"]["check"] == [
        "ck_rc_schedules_ck_rc_schedules_capacity",
        "ck_rc_schedules_ck_rc_schedules_reserved",
    ]
    now = datetime.now(UTC)
    kept = Reservation("r-early", "early", "u", 1, ReservationStatus.CONFIRMED, now, now)
    with empty_engine.begin() as connection:  # what a 0.1 database holds
        connection.execute(tables.schedules.insert(), {"id": "early", "capacity": 2, "reserved": 1})
        row = {k: v for k, v in reservation_row(kept).items() if k != "expires_at"}  # not in 0.1
        connection.execute(tables.reservations.insert(), row)

    migrations.upgrade(empty_engine)

    service = ReservationService(lambda: SqlAlchemyUnitOfWork(empty_engine))
    assert migrations.current_revision(empty_engine) == (HEAD,)
    assert migrations.schema_differences(empty_engine) == []
    assert service.get_reservation(kept.id) == kept
    with pytest.raises(BusinessException) as duplicate:  # the generated column still works
        service.create_reservation("early", "u")
    assert duplicate.value.code is ErrorCode.DUPLICATE_RESERVATION
    with pytest.raises(BusinessException) as overbooked:  # and the checks still hold
        service.create_reservation("early", "v", quantity=2)
    assert overbooked.value.code is ErrorCode.CAPACITY_EXCEEDED
    service.cancel_reservation(kept.id)
    assert service.create_reservation("early", "u").status is ReservationStatus.CONFIRMED


def test_tables_made_by_create_all_are_adopted(empty_engine: Engine) -> None:
    metadata.create_all(empty_engine)
    with pytest.raises(migrations.SchemaError, match=r"not under migrations.*--adopt"):
        migrations.upgrade(empty_engine)

    assert migrations.adopt(empty_engine) is True
    assert migrations.current_revision(empty_engine) == (HEAD,)
    migrations.upgrade(empty_engine)
    assert migrations.adopt(empty_engine) is False  # nothing left to adopt
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(empty_engine))
    service.create_schedule("adopted", 1)
    assert service.create_reservation("adopted", "u").quantity == 1


def test_tables_that_differ_are_not_adopted(empty_engine: Engine) -> None:
    metadata.create_all(empty_engine)
    with empty_engine.begin() as connection:
        (created_at,) = tables.idempotency_keys.indexes
        connection.execute(DropIndex(created_at))
    with pytest.raises(migrations.SchemaError, match="ix_rc_idempotency_keys_created_at"):
        migrations.adopt(empty_engine)
    assert migrations.current_revision(empty_engine) == ()


def test_an_empty_database_has_nothing_to_adopt(empty_engine: Engine) -> None:
    assert migrations.adopt(empty_engine) is False
    assert migrations.current_revision(empty_engine) == ()


@pytest.mark.parametrize("name", ["sqlite", "postgresql", "mysql"])
def test_revisions_do_not_follow_later_changes_to_the_tables(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revision is history: changing a column type or naming rule must not rewrite it."""
    url = {
        "sqlite": "sqlite:///never-created.sqlite3",
        "postgresql": "postgresql+psycopg://u@localhost/never",
        "mysql": "mysql+pymysql://u@localhost/never",
    }[name]
    before = migrations.upgrade(url, sql=True)
    monkeypatch.setattr(tables.IdString, "load_dialect_impl", lambda self, dialect: String(10))
    monkeypatch.setattr(tables.UtcDateTime, "load_dialect_impl", lambda self, dialect: String(40))
    monkeypatch.setitem(metadata.naming_convention, "ck", "renamed_%(constraint_name)s")
    monkeypatch.setitem(metadata.naming_convention, "ix", "renamed_%(column_0_N_name)s")
    assert migrations.upgrade(url, sql=True) == before
    assert "VARCHAR(64)" in before
    assert "renamed" not in before


def _documented(language: str, containing: str) -> str:
    """The first ``language`` code block of docs/migrations.md that holds ``containing``."""
    text = (Path(__file__).parents[2] / "docs" / "migrations.md").read_text()
    blocks = re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)
    return next(block for block in blocks if containing in block)


def test_the_documented_host_setup_keeps_revisions_out_of_the_package(tmp_path: Path) -> None:
    """docs/migrations.md's alembic.ini and first-revision command, run as a host runs them."""
    if not (Path(__file__).parents[2] / "docs").exists():
        pytest.skip("an installed package without its docs")
    host = tmp_path / "host"
    (host / "migrations" / "versions").mkdir(parents=True)
    (host / "migrations" / "script.py.mako").write_text(
        (migrations.SCRIPT_DIRECTORY / "script.py.mako").read_text()
    )
    (host / "alembic.ini").write_text(_documented("ini", "path_separator"))
    (host / "migrations" / "env.py").write_text(
        "import os\n"
        "from alembic import context\n"
        "from sqlalchemy import Column, Integer, MetaData, Table, create_engine\n"
        "from reservation_core.adapters.sqlalchemy import metadata as rc_metadata\n"
        "app = MetaData()\n"
        "Table('orders', app, Column('id', Integer, primary_key=True))\n"
        "with create_engine(os.environ['HOST_DATABASE_URL']).connect() as connection:\n"
        "    context.configure(connection=connection, target_metadata=[app, rc_metadata])\n"
        "    with context.begin_transaction():\n"
        "        context.run_migrations()\n"
    )
    shipped = sorted(path.name for path in migrations.VERSIONS_DIRECTORY.iterdir())
    first = next(
        line
        for line in _documented("bash", "--version-path").splitlines()
        if "--version-path" in line
    )
    env = {
        **os.environ,
        "HOST_DATABASE_URL": f"sqlite:///{tmp_path / 'host.sqlite3'}",
        "PYTHONPATH": str(Path(migrations.__file__).parents[2]),
    }
    for command_line in ("alembic upgrade reservation_core@head", first):
        args = shlex.split(command_line)
        result = subprocess.run(  # noqa: S603 - our interpreter, the documented command
            [sys.executable, "-m", *args],
            cwd=host,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    (revision,) = (host / "migrations" / "versions").glob("*_orders.py")
    assert "create_table('orders'" in revision.read_text()
    assert "rc_" not in revision.read_text()  # the library's tables are known, not proposed
    assert sorted(path.name for path in migrations.VERSIONS_DIRECTORY.iterdir()) == shipped


def test_the_migrations_extra_allows_no_alembic_without_path_separator() -> None:
    """path_separator, used by the documented alembic.ini, arrived in Alembic 1.16."""
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("an installed package without its pyproject.toml")
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    for extra in ("migrations", "test"):
        (alembic,) = (Requirement(r) for r in extras[extra] if r.lower().startswith("alembic"))
        assert not alembic.specifier.contains("1.15.2"), extra
        assert alembic.specifier.contains("1.16.0"), extra
