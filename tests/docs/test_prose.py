"""What the README and the docs tell a reader, where running a code block cannot check it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs._documents import MARKDOWN, ROOT, relative

README = ROOT / "README.md"


def _paragraphs(path: Path) -> list[str]:
    """The prose paragraphs (and list items) of a Markdown file, fenced code left out."""
    text = re.sub(r"^ *```.*?^ *```", "", path.read_text(), flags=re.M | re.S)
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n|\n(?=- )", text)]


def _shipped_text_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "mkdocs.yml"]
    for folder in ("src", "docs", "examples", "tests"):
        files += [
            path
            for path in (ROOT / folder).rglob("*")
            if path.is_file() and path.suffix in (".py", ".md", ".txt", ".ini", ".toml")
        ]
    return [path for path in files if path != Path(__file__)]  # this file names the patterns


def _install_block(path: Path) -> str:
    section = path.read_text().split("\n## Install\n", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S)[1]  # type: ignore[index]


def test_getting_started_installs_what_the_readme_installs() -> None:
    """Getting started once recommended ``[postgresql]`` where the README recommends
    ``[postgresql-binary]`` (psycopg with its own libpq, nothing to build)."""
    assert _install_block(ROOT / "docs" / "getting-started.md") == _install_block(README)


def test_nothing_cites_a_document_users_do_not_have() -> None:
    """The team's design notes are not shipped: a rule is stated, or a docs page linked."""
    citing = [
        relative(path)
        for path in _shipped_text_files()
        if re.search(r"\bDESIGN(\.md)?\s*§|\.\./shared", path.read_text())
    ]
    assert citing == []


def test_readme_engine_advice_says_it_changes_the_isolation_of_a_shared_engine() -> None:
    (advice,) = [p for p in _paragraphs(README) if "recommended_engine_options" in p]
    assert "dedicated=True" in advice, "recommend an engine of the library's own"
    assert "READ COMMITTED" in advice
    assert re.search(r"isolation of every transaction of yours", advice), (
        "say that a shared engine's transactions change isolation too"
    )


@pytest.mark.parametrize("path", MARKDOWN, ids=relative)
def test_idempotency_keys_are_described_by_what_a_replay_returns(path: Path) -> None:
    """A replay returns the reservation as it is now, not the first response: no bare 'Stripe'."""
    for paragraph in _paragraphs(path):
        if "stripe" in paragraph.lower():
            assert "as it is now" in paragraph, f"unqualified comparison: {paragraph[:120]}"
    if path == README:
        (feature,) = [p for p in _paragraphs(path) if p.startswith("- **Idempotency**")]
        assert "as it is now" in feature
