"""The ``reservation-core`` command: demo, stress, audit, migrate, events, relay, maintain.

Exit status: 0 success, 1 a check failed (inconsistency, drift, violation), 2 a usage or
database error, reported as one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from sqlalchemy import exc as sa_exc

from reservation_core import BusinessException, __version__
from reservation_core.cli import audit, demo, events, maintain, migrate, relay, stress
from reservation_core.cli._common import one_line
from reservation_core.cli._urls import CliError, redact
from reservation_core.relay import RelayError

__all__ = ["main"]

PROG = "reservation-core"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Reservations with a fixed capacity that never overbook: try it, "
        "load-test a database, audit seat counts, migrate the schema, read or relay the events, "
        "run the periodic jobs.",
        epilog="Exit status: 0 success, 1 a check failed, 2 a usage or database error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in (demo, stress, audit, migrate, events, relay, maintain):
        command.add_parser(commands)
    return parser


class _OneLine(logging.Formatter):
    """A log record as one line: a traceback shrinks to its exception's last line."""

    def formatException(self, ei: logging._SysExcInfoType) -> str:  # noqa: N802 - logging's name
        return one_line(repr(ei[1])) if ei[1] is not None else ""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return redact(" ".join(line.strip() for line in text.splitlines()))


def _log_to_stderr(level: int) -> None:
    """Log warnings (or from ``level`` up) as one line each on stderr, never a traceback.

    A pool discarding a connection killed under it, say: SQLAlchemy logs it as an error.
    A command that reports progress in its log (``relay``) asks for ``INFO``.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine(f"{PROG}: %(levelname)s: %(name)s: %(message)s"))
    handler.setLevel(level)
    logging.getLogger().addHandler(handler)


def _fail(message: str) -> int:
    # A driver's message may quote what it was given: never a password.
    print(f"{PROG}: error: {redact(message)}", file=sys.stderr)
    return 2


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises nothing more."""
    with contextlib.suppress(OSError, ValueError):  # not a file (a test's capture)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 - a status per failure
    """Run the command line; returns the exit status.

    Examples:
        >>> main(["demo", "--capacity", "10", "--requests", "100", "--json"])  # doctest: +SKIP
        0
    """
    args = _parser().parse_args(argv)
    _log_to_stderr(getattr(args, "log_level", logging.WARNING))
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (CliError, RelayError) as error:
        return _fail(str(error))
    except BusinessException as error:
        return _fail(f"{error.code}: {error.message}")
    except sa_exc.DBAPIError as error:
        return _fail(f"database error: {one_line(error.orig)}")
    except sa_exc.SQLAlchemyError as error:
        return _fail(f"database error: {one_line(error)}")
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): end quietly, as a Unix filter does.
        _discard_stdout()
        return 0
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
