"""The built documentation site, opened page by page in headless Chromium.

What a reader would notice fails here: a page that does not load or throws, markup shown
as text (snippet markers, code fences, directives), docstring examples shown as nested
quotes instead of code, a public name missing from the API reference, a link to a page
or anchor that does not exist. Requests leaving 127.0.0.1 (web fonts, CDN scripts) are
blocked: the checks must not depend on the network.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from tests.docs._documents import DOCS, ROOT

PAGES = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.glob("*.md"))
#: The modules whose ``__all__`` is the public API (``reservation_core.cli`` for ``main``).
PUBLIC_MODULES = [
    "reservation_core",
    "reservation_core.adapters.memory",
    "reservation_core.adapters.sqlalchemy",
    "reservation_core.migrations",
    "reservation_core.testing",
    "reservation_core.cli",
    "reservation_core.relay",
    "reservation_core.contrib.http",
    "reservation_core.contrib.django",
]
SNIPPET_MARKER = re.compile(r"-\s*-\s*8\s*<\s*-\s*-")
SNIPPET = re.compile(r'^ *--8<-- "(?P<path>[^":]+):(?P<section>[\w-]+)"$', re.M)

_READ_PAGE = """() => {
    const article = document.querySelector("article");
    const prose = article.cloneNode(true);
    prose.querySelectorAll("pre, code").forEach((node) => node.remove());
    return {
        title: document.title,
        text: article.innerText,
        prose: prose.textContent,
        code: Array.from(article.querySelectorAll("pre")).map((pre) => pre.innerText),
        nestedQuotes: article.querySelectorAll("blockquote blockquote").length,
        ids: Array.from(document.querySelectorAll("[id]")).map((node) => node.id),
        links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.href),
    };
}"""


@dataclasses.dataclass
class Page:
    """What a reader gets from one page."""

    url: str
    status: int
    title: str
    text: str
    prose: str
    code: list[str]
    nested_quotes: int
    ids: set[str]
    links: list[str]
    errors: list[str]


def page_url(base: str, page: str) -> str:
    """The URL MkDocs gives ``page`` (``web-frameworks.md`` -> ``web-frameworks/``)."""
    return base if page == "index.md" else f"{base}{page.removesuffix('.md')}/"


def _local_context(browser: Any, site_url: str, blocked: set[str], **options: Any) -> Any:
    """A browser context whose requests leaving the site are blocked (and noted)."""
    context = browser.new_context(**options)
    local = urlsplit(site_url).netloc

    def stay_local(route: Any) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            blocked.add(route.request.url)
            route.abort()

    context.route("**/*", stay_local)
    return context


@pytest.fixture(scope="session")
def pages(browser: Any, site_url: str) -> dict[str, Page]:
    """Every page of the site, opened once in Chromium."""
    blocked: set[str] = set()
    context = _local_context(browser, site_url, blocked)

    def script_error(error: Any, errors: list[str]) -> None:
        # A CDN script (Mermaid's) that was blocked fails to load; that is not the page's fault.
        if not any(url in str(error) for url in blocked):
            errors.append(f"script: {error}")

    opened = {}
    try:
        for page_name in PAGES:
            tab = context.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda error, errors=errors: script_error(error, errors))
            tab.on(
                "response",
                lambda response, errors=errors: (
                    errors.append(f"{response.status} {response.url}")
                    if response.status >= 400
                    else None
                ),
            )
            response = tab.goto(page_url(site_url, page_name), wait_until="load")
            assert response is not None
            seen = tab.evaluate(_READ_PAGE)
            opened[page_name] = Page(
                url=tab.url,
                status=response.status,
                title=seen["title"],
                text=seen["text"],
                prose=seen["prose"],
                code=seen["code"],
                nested_quotes=seen["nestedQuotes"],
                ids=set(seen["ids"]),
                links=seen["links"],
                errors=errors,
            )
            tab.close()
    finally:
        context.close()
    return opened


@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_without_errors(pages: dict[str, Page], page_name: str) -> None:
    page = pages[page_name]
    assert page.status == 200
    assert page.title.strip()
    assert page.text.strip()
    assert page.errors == []


@pytest.mark.parametrize("page_name", PAGES)
def test_no_markup_shows_as_text(pages: dict[str, Page], page_name: str) -> None:
    page = pages[page_name]
    assert not SNIPPET_MARKER.search(page.text), "a snippet marker is shown instead of its file"
    assert "```" not in page.text, "a code fence is shown as text: a block did not close"
    assert not re.search(r"^:::", page.text, re.M), "an API directive was not rendered"
    assert "<!--" not in page.text, "an HTML comment is shown as text"
    assert not re.search(r"<reservation_core\.[\w.]+>", page.text), "a Sphinx role's target"
    assert page.nested_quotes == 0, "'>>>' prompts rendered as nested quotes, not as code"
    assert ">>>" not in page.prose, "a '>>>' example is shown as prose, not as code"
    assert all(block.strip() for block in page.code), "an empty code block"


def _section_first_line(path: str, section: str) -> str:
    lines = (ROOT / path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if f"--8<-- [start:{section}]" in line)
    return next(line.strip() for line in lines[start + 1 :] if line.strip())


@pytest.mark.parametrize("page_name", PAGES)
def test_included_code_is_shown(pages: dict[str, Page], page_name: str) -> None:
    """Each ``--8<-- "file:section"`` shows that section of the file: code as code, a
    Markdown section (of the README, say) as rendered text."""
    for match in SNIPPET.finditer((DOCS / page_name).read_text()):
        first = _section_first_line(match["path"], match["section"])
        if match["path"].endswith(".md"):
            words = " ".join(re.sub(r"[`*_]", "", first).split())
            shown = " ".join(pages[page_name].text.split())
            assert words in shown, f"{match[0].strip()} is not shown: no text has {words!r}"
            continue
        assert any(first in block for block in pages[page_name].code), (
            f"{match[0].strip()} is not shown: no code block has {first!r}"
        )


def _public_names() -> list[str]:
    return [
        f"{module_name}.{name}"
        for module_name in PUBLIC_MODULES
        for name in importlib.import_module(module_name).__all__
        if not name.startswith("__")
    ]


def test_api_reference_lists_every_public_name(pages: dict[str, Page]) -> None:
    missing = [name for name in _public_names() if name not in pages["reference.md"].ids]
    assert missing == [], f"public names missing from the API reference: {missing}"


def _example_lines(obj: object) -> list[str]:
    """The first ``>>>`` line of the docstrings the reference shows for ``obj``."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj)):
        return []
    documented = [obj]
    if inspect.isclass(obj):
        documented += [
            member
            for name, member in vars(obj).items()
            if not name.startswith("_") and inspect.isfunction(member)
        ]
    lines = []
    for item in documented:
        prompts = [  # the reference trims doctest flags, as a reader needs none
            re.sub(r"\s*# doctest:.*", "", line.strip())
            for line in (inspect.getdoc(item) or "").splitlines()
            if ">>>" in line
        ]
        lines += prompts[:1]
    return lines


def test_docstring_examples_render_as_code_with_prompts(pages: dict[str, Page]) -> None:
    reference = pages["reference.md"]
    objects = [
        getattr(importlib.import_module(name.rsplit(".", 1)[0]), name.rsplit(".", 1)[1])
        for name in _public_names()
    ] + [importlib.import_module(name) for name in ("reservation_core.migrations",)]
    expected = [line for obj in objects for line in _example_lines(obj)]
    assert len(expected) >= 5
    lost = [line for line in expected if not any(line in block for block in reference.code)]
    assert lost == [], f"docstring examples not shown as code with their prompts: {lost}"


def _fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local site
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_links_lead_somewhere(pages: dict[str, Page], site_url: str) -> None:
    """Every link between pages, and every anchor, exists; other sites are not fetched."""
    by_url = {page.url: page for page in pages.values()}
    statuses: dict[str, int] = {}
    broken = []
    for name, page in pages.items():
        for link in page.links:
            target, fragment = urldefrag(link)
            if not target.startswith(site_url):
                assert urlsplit(link).scheme in ("https", "http", "mailto"), link
                continue
            if target not in by_url:
                if target not in statuses:
                    statuses[target] = _fetch(target)
                if statuses[target] != 200:
                    broken.append(f"{name}: {link} answers {statuses[target]}")
                continue
            if fragment and unquote(fragment) not in by_url[target].ids:
                broken.append(f"{name}: {link} has no such anchor")
    assert broken == []


def test_every_built_page_is_checked(site_dir: Path) -> None:
    built = {
        path.parent.relative_to(site_dir).as_posix()
        for path in site_dir.rglob("index.html")
        if path.parent.name != "search"
    }
    assert built == {page_url("", page).rstrip("/") or "." for page in PAGES}
