"""The site's layout at a laptop's width and at a narrow window's, in headless Chromium.

What a reader sees when the layout fails: an identifier broken across two lines
(``CAPACITY_EXCEEDE`` / ``D`` in the error code table), a page that scrolls sideways, an
API signature cut off at the right edge of its box as one long line.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from packaging.requirements import Requirement

from tests.docs._documents import ROOT
from tests.docs.test_site import PAGES, _local_context, page_url

WIDTHS = [1280, 900]

_MEASURE = """() => {
    const inline = Array.from(document.querySelectorAll("article code"))
        .filter((code) => !code.closest("pre") && !/\\s/.test(code.textContent));
    return {
        broken: inline
            .filter((code) => code.getClientRects().length > 1)
            .map((code) => code.textContent),
        pageWidth: document.documentElement.scrollWidth,
        windowWidth: window.innerWidth,
        cutSignatures: Array.from(document.querySelectorAll(".doc-signature pre > code"))
            .filter((code) => code.scrollWidth > code.clientWidth)
            .map((code) => code.innerText.split("\\n")[0]),
    };
}"""


@pytest.fixture(scope="session")
def layouts(browser: Any, site_url: str) -> dict[tuple[str, int], dict[str, Any]]:
    """Every page measured at every width."""
    measured = {}
    for width in WIDTHS:
        context = _local_context(browser, site_url, set(), viewport={"width": width, "height": 900})
        try:
            tab = context.new_page()
            for page_name in PAGES:
                tab.goto(page_url(site_url, page_name), wait_until="load")
                measured[page_name, width] = tab.evaluate(_MEASURE)
        finally:
            context.close()
    return measured


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page_name", PAGES)
def test_identifiers_are_never_broken_across_lines(
    layouts: dict[tuple[str, int], dict[str, Any]], page_name: str, width: int
) -> None:
    assert layouts[page_name, width]["broken"] == []


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page_name", PAGES)
def test_no_page_scrolls_sideways(
    layouts: dict[tuple[str, int], dict[str, Any]], page_name: str, width: int
) -> None:
    layout = layouts[page_name, width]
    assert layout["pageWidth"] <= layout["windowWidth"]


@pytest.mark.parametrize("width", WIDTHS)
def test_api_signatures_wrap_instead_of_being_cut_off(
    layouts: dict[tuple[str, int], dict[str, Any]], width: int
) -> None:
    """mkdocstrings wraps a signature only with Black or Ruff installed; else one line."""
    assert layouts["reference.md", width]["cutSignatures"] == []


def test_the_docs_extra_brings_the_signature_formatter() -> None:
    """``pip install -e '.[docs]'`` alone must build the site as CI does."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {Requirement(line).name for line in project["optional-dependencies"]["docs"]}
    assert names & {"ruff", "black"}
