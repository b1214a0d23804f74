"""``reservation-core migrate``: create or upgrade the ``rc_`` tables with Alembic.

Runs the shipped Alembic branch ``reservation_core`` with its own version table
(``rc_alembic_version``), so it never touches a host application's Alembic history.
``--sql`` prints the SQL instead of running it (for a DBA to review and apply).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from reservation_core.cli._common import CliError, open_engine, shown
from reservation_core.cli._options import Commands, add_command, add_url

SUMMARY = "create or upgrade the rc_ tables (Alembic)"


def add_parser(commands: Commands) -> None:
    """Register ``migrate``."""
    parser = add_command(commands, "migrate", run, summary=SUMMARY, description=__doc__)
    add_url(parser, required=True)
    parser.add_argument(
        "--sql", action="store_true", help="print the SQL instead of running it (offline mode)"
    )


def run(args: argparse.Namespace) -> int:
    """Upgrade to the newest revision, or print its SQL; 0 on success."""
    if importlib.util.find_spec("alembic") is None:
        raise CliError("migrate needs Alembic: pip install 'reservation-core[migrations]'")
    # Alembic is an optional extra: imported only once it is known to be there.
    from alembic.migration import MigrationContext  # noqa: PLC0415

    from reservation_core import migrations  # noqa: PLC0415

    engine = open_engine(args.url, pool_size=1, connect=not args.sql)
    try:
        if args.sql:
            sys.stdout.write(migrations.upgrade(engine, sql=True))
            return 0
        migrations.upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": migrations.VERSION_TABLE}
            )
            heads = ", ".join(context.get_current_heads())
    finally:
        engine.dispose()
    print(f"{shown(engine)}: reservation_core schema at revision {heads} (newest)")
    return 0
