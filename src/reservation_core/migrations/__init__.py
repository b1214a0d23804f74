"""The Alembic branch ``reservation_core`` that creates and upgrades the ``rc_`` tables.

Two ways to use it (Alembic is the ``migrations`` extra):

* **Standalone**, with its own version table ``rc_alembic_version`` so it never clashes
  with a host's Alembic: :func:`upgrade`, :func:`downgrade`, or ``reservation-core migrate``.
* **Inside the host's Alembic**: add :data:`VERSIONS_DIRECTORY` to ``version_locations``
  in ``alembic.ini`` and run ``alembic upgrade reservation_core@head``.

Tables made by ``metadata.create_all`` are not under migrations yet: :func:`adopt` (or
``reservation-core migrate --adopt``) checks that they match and records them as the
newest revision, after which :func:`upgrade` takes over.

Examples:
    >>> from reservation_core import migrations
    >>> migrations.upgrade("postgresql+psycopg://app@db/app")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import URL, Engine

__all__ = [
    "BRANCH",
    "SCRIPT_DIRECTORY",
    "VERSIONS_DIRECTORY",
    "VERSION_TABLE",
    "SchemaError",
    "adopt",
    "current_revision",
    "downgrade",
    "schema_differences",
    "upgrade",
]

BRANCH = "reservation_core"
"""The branch label of every revision here."""
VERSION_TABLE = "rc_alembic_version"
"""The version table the standalone environment uses."""
SCRIPT_DIRECTORY = Path(__file__).resolve().parent
"""The Alembic script directory shipped in the package."""
VERSIONS_DIRECTORY = SCRIPT_DIRECTORY / "versions"
"""The revisions, for a host's ``version_locations``."""


class SchemaError(Exception):
    """The ``rc_`` tables are not what the migrations expect; the message says how."""


@contextlib.contextmanager
def _engine(bind: Engine | str) -> Iterator[Engine]:
    """``bind``, or an engine on the URL ``bind``, disposed afterwards."""
    if not isinstance(bind, str):
        yield bind
        return
    from sqlalchemy import create_engine  # noqa: PLC0415

    engine = create_engine(bind)
    try:
        yield engine
    finally:
        engine.dispose()


def _config(engine: Engine, output: io.StringIO | None = None) -> Config:
    try:
        from alembic.config import Config  # noqa: PLC0415 - Alembic is an optional extra
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(
            "reservation_core.migrations needs Alembic: pip install 'reservation-core[migrations]'"
        ) from error
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(SCRIPT_DIRECTORY))
    # Offline (--sql) mode renders for this URL; "%" is Alembic's interpolation character.
    url = _offline_url(engine).render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["engine"] = engine
    return config


def _offline_url(engine: Engine) -> URL:
    """The engine's URL, saying ``mariadb`` where a ``mysql`` URL reaches a MariaDB server.

    Offline SQL is rendered for a dialect made from the URL alone, and MySQL and MariaDB
    spell some things differently (the exact-comparison collation of the id columns).
    The server is asked once; if it cannot be reached, the URL is taken as it says.
    """
    url = engine.url
    if url.get_backend_name() != "mysql":
        return url
    try:
        with engine.connect():
            pass
    except Exception:  # noqa: BLE001 - offline SQL needs no server: render for MySQL
        return url
    if getattr(engine.dialect, "is_mariadb", False):
        return url.set(drivername=f"mariadb+{engine.dialect.driver}")
    return url


def current_revision(bind: Engine | str) -> tuple[str, ...]:
    """The revisions recorded in ``rc_alembic_version``; ``()`` when not under migrations."""
    from alembic.migration import MigrationContext  # noqa: PLC0415

    with _engine(bind) as engine, engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_heads()


def schema_differences(bind: Engine | str) -> list[str]:
    """How the database's ``rc_`` tables differ from the library's ``metadata``.

    One line per difference, in what the database lacks or has more (``missing index:
    rc_events.ix_rc_events_occurred_at``, ``unexpected column: rc_schedules.note``) or how
    a column differs (``column rc_event_consumers.consumer is VARCHAR(32), expected
    VARCHAR(64)``); an empty list when they match. Other tables are ignored.
    """
    from reservation_core.migrations._compare import (  # noqa: PLC0415 - needs Alembic
        schema_differences as differences,
    )

    with _engine(bind) as engine, engine.connect() as connection:
        return differences(connection)


def _unmanaged_tables(engine: Engine) -> list[str]:
    """The ``rc_`` tables present while no revision is recorded: ``create_all``'s work."""
    from sqlalchemy import inspect  # noqa: PLC0415

    from reservation_core.adapters.sqlalchemy import metadata  # noqa: PLC0415

    if current_revision(engine):
        return []
    return sorted(set(metadata.tables) & set(inspect(engine).get_table_names()))


def adopt(bind: Engine | str) -> bool:
    """Bring tables made by ``metadata.create_all`` under the migrations.

    When the ``rc_`` tables exist but no revision is recorded, checks that they match this
    version's schema exactly (:func:`schema_differences`) and records the newest revision
    (``alembic stamp``), without changing a table. :func:`upgrade` takes over from there.

    Returns:
        ``True`` if it recorded the revision; ``False`` when there was nothing to adopt
        (the tables are already under migrations, or there are none yet).

    Raises:
        SchemaError: the tables differ from this version's schema (the message lists how);
            nothing is recorded.
    """
    from alembic import command  # noqa: PLC0415

    with _engine(bind) as engine:
        if not _unmanaged_tables(engine):
            return False
        found = schema_differences(engine)
        if found:
            raise SchemaError(
                "the rc_ tables differ from this version's schema, so they cannot be "
                f"adopted: {'; '.join(found)}"
            )
        command.stamp(_config(engine), "heads")
    return True


def upgrade(bind: Engine | str, revision: str = "heads", *, sql: bool = False) -> str:
    """Upgrade the ``rc_`` tables to ``revision`` (default: the newest).

    Args:
        bind: an ``Engine`` or a database URL.
        revision: an Alembic revision target.
        sql: print nothing to the database; return the SQL it would run instead.

    Returns:
        The SQL script in ``sql`` mode, else an empty string.

    Raises:
        SchemaError: the ``rc_`` tables exist but no revision is recorded (they were made
            by ``metadata.create_all``): :func:`adopt` them first.
    """
    from alembic import command  # noqa: PLC0415

    output = io.StringIO()
    with _engine(bind) as engine:
        unmanaged = [] if sql else _unmanaged_tables(engine)
        if unmanaged:
            raise SchemaError(
                f"the tables {', '.join(unmanaged)} exist but are not under migrations "
                "(made by metadata.create_all?): check and adopt them first with "
                "reservation_core.migrations.adopt(engine) or reservation-core migrate --adopt"
            )
        command.upgrade(_config(engine, output), revision, sql=sql)
    return output.getvalue()


def downgrade(bind: Engine | str, revision: str = "base", *, sql: bool = False) -> str:
    """Downgrade the ``rc_`` tables to ``revision`` (default: drop them all)."""
    from alembic import command  # noqa: PLC0415

    output = io.StringIO()
    target = revision if not sql else f"heads:{revision}"
    with _engine(bind) as engine:
        command.downgrade(_config(engine, output), target, sql=sql)
    return output.getvalue()
