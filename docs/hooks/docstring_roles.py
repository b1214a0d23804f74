"""MkDocs hook: Sphinx roles in docstrings (``:class:`~pkg.Name```) shown as plain code.

``:meth:`title <target>``` shows the title alone.

The docstrings keep the Sphinx form that IDEs and ``help()`` read; mkdocstrings renders
them as Markdown, where the role prefix would show as text.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|meth|func|data|attr|exc|mod|obj):<code>(~?)([^<]+)</code>")


#: ``title <target>`` (escaped in the HTML): the title is what a reader sees.
_TITLED = re.compile(r"(.+?)\s*&lt;[^&]+&gt;")


def _plain(match: re.Match[str]) -> str:
    short, target = match.groups()
    if titled := _TITLED.fullmatch(target):
        return f"<code>{titled[1]}</code>"
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def on_page_content(html: str, **_: Any) -> str:
    """Drop the role prefixes from the page's HTML."""
    return _ROLE.sub(_plain, html)
