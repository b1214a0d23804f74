"""What the docs tests read: the Markdown a person reads, and where the tools are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: Every Markdown file a person reads: the README and each page of the site.
MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; in CI (``CI=true``) a missing tool is a failure."""
    if IN_CI:
        pytest.fail(f"CI must run the docs checks, but {reason}")
    pytest.skip(reason)


def relative(path: Path) -> str:
    """``path`` as a test id: relative to the repository."""
    return str(path.relative_to(ROOT))
