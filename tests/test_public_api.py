"""The public API cannot change by accident: it is compared with tests/public_api.txt."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import public_api

REMEDY = """\
The public API differs from tests/public_api.txt (- snapshot, + code). If this is intended:
  1. follow the deprecation policy in docs/reference.md (a removal or an incompatible
     change needs a release that warns with DeprecationWarning first);
  2. add a CHANGELOG.md line under [Unreleased] (Added, Changed, Deprecated or Removed);
  3. run `python -m tests.public_api --update` and commit the snapshot with the changelog.
"""


def test_the_public_api_matches_the_snapshot() -> None:
    stored = public_api.api_of(public_api.SNAPSHOT.read_text(encoding="utf-8"))
    current = public_api.snapshot()
    if stored != current:
        diff = difflib.unified_diff(
            stored.splitlines(), current.splitlines(), "snapshot", "code", lineterm="", n=1
        )
        pytest.fail(REMEDY + "\n" + "\n".join(diff), pytrace=False)


def _example(
    first: int, /, second: str = "x", *rest: int, clock: Callable[[], int] = len, **options: bool
) -> None:
    """Every kind of parameter, for the signature rendering."""


def test_signatures_are_rendered_with_every_parameter_kind() -> None:
    assert public_api._signature(_example) == (
        "(first: int, /, second: str = 'x', *rest: int, "
        "clock: Callable[[], int] = <function len>, **options: bool) -> None"
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    snapshot, changelog = tmp_path / "public_api.txt", tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n- something\n\n## [0.1.0]\n- old\n")
    assert public_api.update(snapshot, changelog) is True
    return snapshot, changelog


def test_an_update_without_a_changelog_line_is_refused(files: tuple[Path, Path]) -> None:
    snapshot, changelog = files
    snapshot.write_text(snapshot.read_text() + "reservation_core.gone(x: int) -> int\n")
    with pytest.raises(public_api.UpdateRefused, match=r"\[Unreleased\] section has not"):
        public_api.update(snapshot, changelog)

    # A change below [Unreleased] (an older release) does not count either.
    changelog.write_text(changelog.read_text() + "- edited history\n")
    with pytest.raises(public_api.UpdateRefused):
        public_api.update(snapshot, changelog)

    changelog.write_text(changelog.read_text().replace("- something", "- something\n- Removed"))
    assert public_api.update(snapshot, changelog) is True
    assert public_api.api_of(snapshot.read_text()) == public_api.snapshot()


def test_an_update_of_an_unchanged_api_needs_no_changelog_line(files: tuple[Path, Path]) -> None:
    snapshot, changelog = files
    assert public_api.update(snapshot, changelog) is False
