"""``reservation-core migrate``: create or upgrade the ``rc_`` tables with Alembic.

Runs the shipped Alembic branch ``reservation_core`` with its own version table
(``rc_alembic_version``), so it never touches a host application's Alembic history.
``--sql`` prints the SQL instead of running it (for a DBA to review and apply).

Tables made by ``metadata.create_all`` are refused until adopted: ``--adopt`` checks
that they match this version's schema exactly, records them as the newest revision, and
upgrades from there; a table that differs is listed and nothing changes.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from reservation_core.cli._common import open_engine
from reservation_core.cli._options import Commands, add_command, add_url
from reservation_core.cli._urls import CliError, shown

SUMMARY = "create or upgrade the rc_ tables (Alembic)"


def add_parser(commands: Commands) -> None:
    """Register ``migrate``."""
    parser = add_command(commands, "migrate", run, summary=SUMMARY, description=__doc__)
    add_url(parser, required=True)
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--sql", action="store_true", help="print the SQL instead of running it (offline mode)"
    )
    how.add_argument(
        "--adopt",
        action="store_true",
        help="first bring tables made by metadata.create_all under migrations, "
        "once checked to match",
    )


def run(args: argparse.Namespace) -> int:
    """Upgrade to the newest revision, or print its SQL; 0 on success."""
    if importlib.util.find_spec("alembic") is None:
        raise CliError("migrate needs Alembic: pip install 'reservation-core[migrations]'")
    # Alembic is an optional extra: imported only once it is known to be there.
    from reservation_core import migrations  # noqa: PLC0415

    engine = open_engine(args.url, pool_size=1, connect=not args.sql)
    try:
        if args.sql:
            sys.stdout.write(migrations.upgrade(engine, sql=True))
            return 0
        adopted = args.adopt and migrations.adopt(engine)
        migrations.upgrade(engine)
        heads = ", ".join(migrations.current_revision(engine))
    except migrations.SchemaError as error:
        raise CliError(str(error)) from None
    finally:
        engine.dispose()
    if adopted:
        print(f"{shown(engine)}: adopted the rc_ tables made by metadata.create_all")
    print(f"{shown(engine)}: reservation_core schema at revision {heads} (newest)")
    return 0
