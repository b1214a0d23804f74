"""Facts the docs state about the code, checked against it: the migration revisions they
name, and what the command line prints in the transcripts of docs/cli.md.

A transcript is a ``console`` block: ``$ command`` lines, each followed by what it
prints (stdout and stderr, as a terminal shows them; a line ``...`` stands for any
lines). Each transcript runs here, in a fresh directory prepared as the page assumes, and
must print what the page shows; one that cannot run is listed with the reason.
"""

from __future__ import annotations

import doctest
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from reservation_core import ReservationService, migrations
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.cli.conftest import run_cli
from tests.docs._documents import DOCS, MARKDOWN, relative

REVISION = re.compile(r"\b\d{4}_rc_\w+")
CLI_PAGE = DOCS / "cli.md"


def _revisions() -> list[str]:
    """The shipped revisions, oldest first."""
    script = ScriptDirectory(str(migrations.SCRIPT_DIRECTORY))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


@pytest.mark.parametrize("path", MARKDOWN, ids=relative)
def test_every_revision_named_is_shipped(path: Path) -> None:
    """The README once sent readers to ``0003_rc_holds``: holds came with ``0005_rc_holds``."""
    unknown = sorted(set(REVISION.findall(path.read_text())) - set(_revisions()))
    assert unknown == [], f"{relative(path)} names revisions that do not exist: {unknown}"


def test_the_revisions_table_lists_every_revision_in_order() -> None:
    listed = re.findall(r"^\| `(\d{4}_rc_\w+)` \|", (DOCS / "migrations.md").read_text(), re.M)
    assert listed == _revisions()


def _made_by_create_all(folder: Path) -> None:
    engine = create_engine(f"sqlite:///{folder / 'reservations.db'}")
    metadata.create_all(engine)
    engine.dispose()


def _drifted(folder: Path) -> None:
    """Three schedules; the stored count of one says 4 seats where its bookings hold 2."""
    engine = create_engine(f"sqlite:///{folder / 'reservations.db'}")
    migrations.upgrade(engine)
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(engine))
    for schedule_id, capacity in [("yoga-monday-0900", 5), ("pilates", 8), ("spin", 12)]:
        service.create_schedule(schedule_id, capacity)
    service.create_reservation("yoga-monday-0900", "ann", quantity=2)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE rc_schedules SET reserved = 4 WHERE id = 'yoga-monday-0900'")
        )
    engine.dispose()


#: A transcript's first command -> what its directory holds before it runs.
CHECKED: dict[str, Callable[[Path], None]] = {
    "reservation-core audit --url sqlite:///reservations.db": _drifted,
    "reservation-core migrate --url sqlite:///reservations.db": _made_by_create_all,
}
#: A transcript's first command -> why it is not run here.
NOT_RUN = {
    "reservation-core demo --capacity 10 --requests 100 --json | jq '.confirmed, .rejected, "
    ".consistent'": "a pipe into jq; tests/cli checks the demo's JSON report",
    "reservation-core events --url sqlite:///reservations.db --consumer cli-tail": (
        "its event ids, times and reservation ids are a past run's; "
        "tests/cli/test_events.py checks each field of the line"
    ),
    "reservation-core relay --url sqlite:///reservations.db --to nats://127.0.0.1:4222": (
        "it runs until Ctrl-C, and its rates and lag are a past run's; "
        "tests/relay/test_cli.py checks its lines and its stop"
    ),
}


def _transcripts(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Each ``console`` block of ``path`` by its first command: (command, output) pairs."""
    found = {}
    for block in re.findall(r"^```console\n(.*?)^```", path.read_text(), re.M | re.S):
        steps: list[tuple[str, str]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], ""))
            else:
                command, output = steps[-1]
                steps[-1] = (command, f"{output}{line}\n")
        found[steps[0][0]] = steps
    return found


def test_every_transcript_of_the_cli_page_is_run_or_excused() -> None:
    assert set(_transcripts(CLI_PAGE)) == set(CHECKED) | set(NOT_RUN)


@pytest.mark.parametrize("first", list(CHECKED))
def test_the_cli_page_shows_what_the_command_prints(first: str, tmp_path: Path) -> None:
    CHECKED[first](tmp_path)
    for command, shown in _transcripts(CLI_PAGE)[first]:
        program, *args = shlex.split(command)
        assert program == "reservation-core"
        result = run_cli(*args, cwd=tmp_path, stderr=subprocess.STDOUT)
        matches = doctest.OutputChecker().check_output(shown, result.stdout, doctest.ELLIPSIS)
        assert matches, f"$ {command}\nthe page shows:\n{shown}\nit prints:\n{result.stdout}"
