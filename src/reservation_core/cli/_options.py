"""Options and argument types shared by the commands."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TypeAlias

#: What ``ArgumentParser.add_subparsers`` returns.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

_MAX_COUNT = 2**31 - 1


def count(text: str) -> int:
    """An ``int`` in ``0..2**31-1`` (what a count column holds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= _MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be between 0 and {_MAX_COUNT}: {value}")
    return value


def positive(text: str) -> int:
    """A :func:`count` of at least 1."""
    value = count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def seconds(text: str) -> float:
    """A positive duration in seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text}")
    return value


def add_command(
    commands: Commands,
    name: str,
    run: Callable[[argparse.Namespace], int],
    *,
    summary: str,
    description: str | None,
) -> argparse.ArgumentParser:
    """Register a command whose ``run(args)`` returns the exit status.

    ``description`` is the command module's docstring; its reST literals print plain.
    """
    parser = commands.add_parser(
        name,
        help=summary,
        description=description and description.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


#: The environment variable ``--url`` falls back to: keeps a password off the command line.
URL_VARIABLE = "RESERVATION_CORE_URL"


def add_url(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """``--url``: the database, as a SQLAlchemy URL; defaults to ``$RESERVATION_CORE_URL``.

    Without either, a command that needs a database says to give one or the other, when
    it opens the database (argparse's own message could not name the variable).
    """
    default = f"default: ${URL_VARIABLE}"
    if not required:
        default += ", else a new SQLite file in a temporary directory"
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_VARIABLE) or None,
        metavar="URL",
        help="database URL, e.g. sqlite:///reservations.db, "
        "postgresql+psycopg://user@host/db, mysql+pymysql://user@host/db "
        f"({default}; a password is safer there than in the command line)",
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    """``--json``: one JSON object on stdout instead of the text report."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the text report"
    )
