"""MkDocs hook: inline code without a space marked as an identifier, never broken inside.

An identifier, an option or a URL gets ``class="identifier"``, which the stylesheet keeps
on one line. CSS cannot tell ``CAPACITY_EXCEEDED`` from a sentence in code; the HTML can. Code with
spaces (a command, a message) keeps wrapping at its spaces.
"""

from __future__ import annotations

import re
from typing import Any

#: A ``<code>`` of plain text without whitespace; highlighted code has child tags.
_IDENTIFIER = re.compile(r"<code>([^<\s]+)</code>")


def on_page_content(html: str, **_: Any) -> str:
    """Mark the page's inline identifiers."""
    return _IDENTIFIER.sub(r'<code class="identifier">\1</code>', html)
