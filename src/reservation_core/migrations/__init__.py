"""The Alembic branch ``reservation_core`` that creates and upgrades the ``rc_`` tables.

Two ways to use it (Alembic is the ``migrations`` extra):

* **Standalone**, with its own version table ``rc_alembic_version`` so it never clashes
  with a host's Alembic: :func:`upgrade`, :func:`downgrade`, or ``reservation-core migrate``.
* **Inside the host's Alembic**: add :data:`VERSIONS_DIRECTORY` to ``version_locations``
  in ``alembic.ini`` and run ``alembic upgrade reservation_core@head``.

Examples:
    >>> from reservation_core import migrations
    >>> migrations.upgrade("postgresql+psycopg://app@db/app")  # doctest: +SKIP
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine

__all__ = [
    "BRANCH",
    "SCRIPT_DIRECTORY",
    "VERSIONS_DIRECTORY",
    "VERSION_TABLE",
    "downgrade",
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


def _config(bind: Engine | str, output: io.StringIO | None = None) -> Config:
    try:
        from alembic.config import Config  # noqa: PLC0415 - Alembic is an optional extra
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(
            "reservation_core.migrations needs Alembic: pip install 'reservation-core[migrations]'"
        ) from error
    from sqlalchemy import create_engine  # noqa: PLC0415

    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(SCRIPT_DIRECTORY))
    engine = create_engine(bind) if isinstance(bind, str) else bind
    # Offline (--sql) mode renders for this URL; "%" is Alembic's interpolation character.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["engine"] = engine
    return config


def upgrade(bind: Engine | str, revision: str = "heads", *, sql: bool = False) -> str:
    """Upgrade the ``rc_`` tables to ``revision`` (default: the newest).

    Args:
        bind: an ``Engine`` or a database URL.
        revision: an Alembic revision target.
        sql: print nothing to the database; return the SQL it would run instead.

    Returns:
        The SQL script in ``sql`` mode, else an empty string.
    """
    from alembic import command  # noqa: PLC0415

    output = io.StringIO()
    command.upgrade(_config(bind, output), revision, sql=sql)
    return output.getvalue()


def downgrade(bind: Engine | str, revision: str = "base", *, sql: bool = False) -> str:
    """Downgrade the ``rc_`` tables to ``revision`` (default: drop them all)."""
    from alembic import command  # noqa: PLC0415

    output = io.StringIO()
    target = revision if not sql else f"heads:{revision}"
    command.downgrade(_config(bind, output), target, sql=sql)
    return output.getvalue()
