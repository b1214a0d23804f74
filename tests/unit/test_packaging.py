"""What ``pyproject.toml`` promises those who install the package, and CI."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DEVELOPER_TOOLS = {"mypy", "ruff", "nox"}


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    path = ROOT / "pyproject.toml"
    if not path.exists():
        pytest.skip("an installed package without its pyproject.toml")
    return tomllib.loads(path.read_text())


def _names(requirements: list[Any]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements if isinstance(r, str)}


def test_extras_carry_no_developer_tools(pyproject: dict[str, Any]) -> None:
    extras: dict[str, list[str]] = pyproject["project"]["optional-dependencies"]
    for name, requirements in extras.items():
        assert not _names(requirements) & DEVELOPER_TOOLS, name


def test_developer_tools_are_dependency_groups(pyproject: dict[str, Any]) -> None:
    groups: dict[str, list[Any]] = pyproject["dependency-groups"]
    assert "ruff" in _names(groups["lint"])
    assert "mypy" in _names(groups["typecheck"])
    assert "nox" in _names(groups["dev"])
    assert {"include-group": "lint"} in groups["dev"]
    assert {"include-group": "typecheck"} in groups["dev"]


def test_ci_installs_the_groups_of_the_tools_it_runs(pyproject: dict[str, Any]) -> None:
    script = (ROOT / ".ci" / "run").read_text()
    installed = set(re.findall(r"--group (\w+)", script))
    tools = set(re.findall(r'"\$V/(\w+)"', script))
    groups: dict[str, list[Any]] = pyproject["dependency-groups"]
    provided = set().union(*(_names(groups[group]) for group in installed))
    assert DEVELOPER_TOOLS & tools <= provided


def test_psycopg_comes_with_or_without_the_binary_build(pyproject: dict[str, Any]) -> None:
    extras: dict[str, list[str]] = pyproject["project"]["optional-dependencies"]
    (plain,) = (Requirement(r) for r in extras["postgresql"])
    (binary,) = (Requirement(r) for r in extras["postgresql-binary"])
    assert (plain.name, plain.extras) == ("psycopg", set())
    assert (binary.name, binary.extras) == ("psycopg", {"binary"})


def test_project_urls(pyproject: dict[str, Any]) -> None:
    urls: dict[str, str] = pyproject["project"]["urls"]
    assert {"Documentation", "Source", "Issues", "Changelog"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
