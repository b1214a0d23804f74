"""Alembic environment for the standalone ``reservation_core`` branch."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from reservation_core.adapters.sqlalchemy import metadata
from reservation_core.migrations import VERSION_TABLE

config = context.config


def run_offline() -> None:
    """Render the SQL for ``sqlalchemy.url`` without connecting."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate the engine handed over by :func:`reservation_core.migrations.upgrade`."""
    engine = config.attributes.get("engine") or create_engine(
        config.get_main_option("sqlalchemy.url") or ""
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=metadata, version_table=VERSION_TABLE
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
