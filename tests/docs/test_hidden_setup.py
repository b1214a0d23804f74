"""A block a reader can copy runs as shown: alone, or after the visible blocks above it.

``<!-- invisible-code-block: python -->`` comments hold what a reader never sees. They may
set up things outside the reader's code (a database file with the schema, a table of the
host's, a server), or check what the blocks did, but never bind a name that a visible
block then uses: a reader who copies that block would get a ``NameError`` (or, worse, an
object other than the one the page made). The one exception is a stand-in for a visible
block the tests skip (``<!-- skip: next "reason" -->``, a server of the reader's): the
hidden block may bind the names that skipped block binds, since the reader has them.

Names are found with :mod:`symtable`: what each block binds at module level, and what it
reads from module level (in functions and classes too) without binding it itself.
"""

from __future__ import annotations

import builtins
import dataclasses
import doctest
import symtable
import textwrap
from pathlib import Path

import pytest
from sybil import Document, Region
from sybil.parsers.markdown import CodeBlockParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer

from tests.docs._documents import MARKDOWN, relative


@dataclasses.dataclass(frozen=True)
class Block:
    """A Python block of a page, and the module-level names it binds and reads."""

    line: int
    hidden: bool
    skipped: bool
    binds: frozenset[str]
    reads: frozenset[str]


def _as_python(source: str) -> str:
    """A ``>>>`` session as the statements it runs."""
    if not source.lstrip().startswith(">>>"):
        return source
    return "".join(example.source for example in doctest.DocTestParser().get_examples(source))


def _names(source: str) -> tuple[frozenset[str], frozenset[str]]:
    """What ``source`` binds at module level, and the module-level names it reads unbound."""
    module = symtable.symtable(_as_python(source), "<block>", "exec")
    binds = {
        symbol.get_name()
        for symbol in module.get_symbols()
        if symbol.is_assigned() or symbol.is_imported()
    }
    reads: set[str] = set()
    tables = [module]
    while tables:
        table = tables.pop()
        reads |= {
            symbol.get_name()
            for symbol in table.get_symbols()
            if symbol.is_referenced() and (table is module or symbol.is_global())
        }
        tables += table.get_children()
    return frozenset(binds), frozenset(reads - binds - set(dir(builtins)))


def _regions(parser: object, document: Document) -> list[Region]:
    return sorted(parser(document), key=lambda region: region.start)  # type: ignore[operator]


def blocks(text: str, path: str = "page.md") -> list[Block]:
    """The Python (and ``pycon``) blocks of a Markdown page, in order."""
    document = Document(text, path)
    regions = sorted(
        _regions(CodeBlockParser("python"), document)
        + _regions(CodeBlockParser("pycon"), document),
        key=lambda region: region.start,
    )
    skips = [region.end for region in _regions(DirectiveInHTMLCommentLexer("skip"), document)]
    skipped = {
        next((region.start for region in regions if region.start >= skip), None) for skip in skips
    }
    found = []
    for region in regions:
        source = textwrap.dedent(str(region.lexemes["source"]))
        if source.strip().startswith('--8<-- "'):  # a file's section, checked elsewhere
            continue
        binds, reads = _names(source)
        found.append(
            Block(
                line=text.count("\n", 0, region.start) + 1,
                hidden=text.startswith("<!--", region.start),
                skipped=region.start in skipped,
                binds=binds,
                reads=reads,
            )
        )
    return found


def names_from_hidden_setup(page: list[Block]) -> list[str]:
    """Each name a visible block reads that only a hidden block gave it, as a message."""
    found = []
    for index, block in enumerate(page):
        if block.hidden:
            continue
        for name in sorted(block.reads):
            binders = [above for above in page[:index] if name in above.binds]
            if not binders or not binders[-1].hidden:
                continue  # a builtin, a name of the reader's own (skipped blocks), or shown
            hidden = binders[-1]
            shown_above = [
                above
                for above in page[: page.index(hidden)]
                if name in above.binds and not above.hidden
            ]
            if shown_above and shown_above[-1].skipped:
                continue  # a stand-in for a block that needs the reader's server
            found.append(
                f"line {block.line} reads {name!r}, which the hidden setup at line "
                f"{hidden.line} binds: show it in a block above"
            )
    return found


@pytest.mark.parametrize("path", MARKDOWN, ids=relative)
def test_no_visible_block_needs_a_name_from_hidden_setup(path: Path) -> None:
    assert names_from_hidden_setup(blocks(path.read_text(), str(path))) == []


_PAGE = """
<!-- invisible-code-block: python
from sqlalchemy import Column, Integer, MetaData, Table, insert

orders = Table("orders", MetaData(), Column("id", Integer, primary_key=True))
-->

```python
def book(connection):
    connection.execute(insert(orders))
```
"""

_SKIP = """<!-- skip: next "connects to the reader's PostgreSQL host" -->"""
_STAND_IN = f"""
{_SKIP}

```python
engine = create_engine("postgresql+psycopg://app@db/app")
```

<!-- invisible-code-block: python
engine = create_engine("sqlite:///docs.sqlite3")
-->

```python
engine.dispose()
```
"""


def test_the_check_finds_a_name_the_hidden_setup_binds() -> None:
    """The README's "Your own transaction" block read ``insert`` and ``orders`` so."""
    assert names_from_hidden_setup(blocks(_PAGE)) == [
        "line 8 reads 'insert', which the hidden setup at line 2 binds: show it in a block above",
        "line 8 reads 'orders', which the hidden setup at line 2 binds: show it in a block above",
    ]


def test_a_hidden_stand_in_for_a_skipped_block_is_allowed() -> None:
    assert names_from_hidden_setup(blocks(_STAND_IN)) == []
    assert names_from_hidden_setup(blocks(_STAND_IN.replace(_SKIP, ""))) == [
        "line 12 reads 'engine', which the hidden setup at line 8 binds: show it in a block above"
    ]
