"""Every Python code block of the README and of docs/ runs, the way a reader would run it.

Sybil reads the Markdown. In each file the blocks run in order in one namespace, in a
fresh working directory, so a block may use what an earlier one defined:

- a ``python`` block is executed; one that defines ``test_*`` functions is a test file a
  reader saves and runs with pytest, so it is also run that way, in a subprocess, and must
  pass (``DATABASE_URL`` is the PostgreSQL test database when one is set, else a SQLite
  file);
- a ``pycon`` block (or a ``python`` block of ``>>>`` prompts) is a doctest;
- a block that only includes a file's section (``--8<-- "path:section"``) must name a
  section that exists;
- ``<!-- invisible-code-block: python -->`` comments set up what lies outside the
  reader's code (a database file with the schema, a table of the host's) or check what
  a block did, never a name a visible block uses (test_hidden_setup.py holds them to
  that), and ``<!-- skip: next "reason" -->`` excludes a block that needs what a test
  cannot have (a database host of the reader's); both are visible in the Markdown
  source only.

The docstring examples of the package (``>>>``, shown in the API reference) run as
doctests too.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from unittest import SkipTest

import pytest
from sybil import Document, Example, Region, Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.parsers.markdown import CodeBlockParser, SkipParser

import reservation_core
from reservation_core import BusinessException
from tests.docs._documents import MARKDOWN, ROOT, relative

SNIPPET = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')
DOCTEST_FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _defines_tests(source: str) -> bool:
    return any(
        isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        for node in ast.parse(source).body
    )


def _snippet_lines(path: str, section: str | None) -> list[str]:
    lines = (ROOT / path).read_text().splitlines()
    if section is None:
        return lines
    start, end = f"--8<-- [start:{section}]", f"--8<-- [end:{section}]"
    begin = next(i for i, line in enumerate(lines) if line.strip().endswith(start))
    finish = next(i for i, line in enumerate(lines) if line.strip().endswith(end))
    return lines[begin + 1 : finish]


def _run_as_test_file(source: str, directory: Path) -> str | None:
    """Save the block as a test module and run pytest on it, as the reader would."""
    test_file = directory / f"test_block_{len(list(directory.glob('test_block_*')))}.py"
    test_file.write_text(source)
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # set by pytest-django for this suite, not a reader's
    env["DATABASE_URL"] = os.environ.get(
        "RESERVATION_CORE_POSTGRESQL_URL", f"sqlite:///{directory / 'block.sqlite3'}"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file.name],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0 or " passed" not in result.stdout:
        return f"pytest on the block failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    return None


def _as_doctest(region: Region, document: Document) -> Iterable[Region]:
    """The ``>>>`` examples of a block, each checked against the output shown."""
    source = region.parsed
    for doctest_region in DocTestStringParser(DocTestEvaluator(DOCTEST_FLAGS))(
        source, document.path
    ):
        doctest_region.adjust(region, source)
        yield doctest_region


class PythonBlocks:
    """``python`` blocks: doctests, file includes, test files or plain code."""

    def __init__(self) -> None:
        self._blocks = CodeBlockParser("python", self.evaluate)
        self._python = PythonEvaluator()

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self._blocks(document):
            if region.parsed.startswith(">>>"):
                yield from _as_doctest(region, document)
            else:
                yield region

    def evaluate(self, example: Example) -> str | None:
        source = str(example.parsed)
        if match := SNIPPET.match(source.strip()):
            if not any(line.strip() for line in _snippet_lines(match["path"], match["section"])):
                return f"the included section is empty: {source.strip()}"
            return None
        self._python(example)
        if _defines_tests(source):
            return _run_as_test_file(source, Path.cwd())
        return None


class PyconBlocks:
    """``pycon`` blocks: an interactive session, checked as a doctest."""

    def __init__(self) -> None:
        self._blocks = CodeBlockParser("pycon")

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self._blocks(document):
            yield from _as_doctest(region, document)


def _examples(path: Path) -> list[Example]:
    sybil = Sybil(parsers=[PythonBlocks(), PyconBlocks(), SkipParser()], path=str(ROOT))
    return list(sybil.parse(path))


@pytest.mark.parametrize("path", MARKDOWN, ids=relative)
def test_every_python_block_runs(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # A block may set class-level defaults, as the errors page shows; none may leak.
    monkeypatch.setattr(BusinessException, "problem_type_base", None)
    skipped = []
    for example in _examples(path):
        try:
            example.evaluate()
        except SkipTest as skip:
            skipped.append(f"line {example.line}: {skip}")
    if skipped:
        print(f"{relative(path)}: skipped by the page's own directives:", *skipped, sep="\n  ")


@pytest.mark.parametrize("path", MARKDOWN, ids=relative)
def test_every_python_fence_is_seen_and_every_skip_explained(path: Path) -> None:
    """A fence the parsers do not know (```py, say) would be shown but never run."""
    text = path.read_text()
    fences = [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if re.fullmatch(r" *```\s*(py|python|python3|py3|pycon)\b.*", line)
    ]
    seen = {example.line for example in _examples(path)}
    unseen = [number for number in fences if number not in seen and number + 1 not in seen]
    assert not unseen, f"{relative(path)}: Python blocks at lines {unseen} are never run"
    for skip in re.findall(r"<!-- skip: (.*?) -->", text, re.S):
        assert re.fullmatch(r'next ".+"', skip), f"{relative(path)}: a skip without a reason"


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(reservation_core.__path__, "reservation_core."):
        if ".migrations." in info.name:  # env.py and the revisions run inside Alembic only
            continue
        spec = importlib.util.find_spec(info.name)
        assert spec is not None
        assert spec.origin is not None
        if ">>>" in Path(spec.origin).read_text():
            names.append(info.name)
    if ">>>" in Path(reservation_core.__file__).read_text():
        names.insert(0, "reservation_core")
    return names


@pytest.mark.parametrize("module_name", _modules_with_examples())
def test_docstring_examples_run(
    module_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    module: Any = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    tests = [test for test in finder.find(module) if test.examples]
    assert tests, f"{module_name} has '>>>' but no doctest was found"
    for test in tests:
        runner.run(test, out=lambda text: print(textwrap.indent(text, "  "), end=""))
    assert runner.failures == 0, f"{runner.failures} docstring example(s) of {module_name} fail"
