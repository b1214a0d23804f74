"""The package's layout is what docs/architecture.md says it is.

Two checks a contributor meets before a reviewer does: every module is named in the
architecture page's module map (a new module without a line there fails), and no import
runs back up the layers the page lists (a domain that imports the adapters, say).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "src" / "reservation_core"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: Scripts that Alembic and Django load from their folders: named there as folders.
LOADED_BY_FRAMEWORKS = ("migrations/versions/", "contrib/django/migrations/")

#: The layers, bottom first: a module may import its own layer and the ones below it.
#: The same list, with the reasons, is in docs/architecture.md ("Layers").
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("errors", ("errors", "_version")),
    ("domain", ("domain",)),
    ("ports", ("ports", "instrumentation/__init__")),
    ("use cases", ("_use_cases",)),
    ("running", ("_running",)),
    ("adapters", ("adapters",)),
    ("public face", ("__init__", "service", "async_service")),
    ("edges", ("cli", "relay", "contrib", "testing", "migrations", "instrumentation", "__main__")),
]


def _modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if not str(path.relative_to(PACKAGE)).startswith(LOADED_BY_FRAMEWORKS)
    )


def _relative(path: Path) -> str:
    return str(path.relative_to(PACKAGE).with_suffix(""))


def _layer(module: str) -> int:
    """The layer of a module path relative to the package (``_running/retry``)."""
    best, best_length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + "/")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return best


def _imported(path: Path) -> set[str]:
    """The package modules ``path`` imports, as paths relative to the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_parts = path.relative_to(PACKAGE).parent.parts
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package_parts[: len(package_parts) - node.level + 1])
                name = "/".join([*base, *(node.module or "").split(".")]).strip("/")
            elif node.module and node.module.startswith("reservation_core"):
                name = "/".join(node.module.split(".")[1:])
            else:
                continue
            found.add(name or "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("reservation_core."):
                    found.add("/".join(alias.name.split(".")[1:]))
    return found


def test_every_module_is_named_in_the_architecture_page() -> None:
    page = ARCHITECTURE.read_text(encoding="utf-8")
    missing = [
        _relative(path) + ".py"
        for path in _modules()
        if path.name != "__init__.py" or path.parent == PACKAGE
        if (_relative(path) + ".py").removeprefix("__init__") not in page
        and Path(_relative(path)).name + ".py" not in page
    ]
    packages = [
        _relative(path.parent) + "/"
        for path in _modules()
        if path.name == "__init__.py" and path.parent != PACKAGE
        if Path(_relative(path.parent)).name + "/" not in page
    ]
    assert not missing + packages, f"not in docs/architecture.md's module map: {missing + packages}"


@pytest.mark.parametrize("path", _modules(), ids=_relative)
def test_no_import_runs_back_up_the_layers(path: Path) -> None:
    module = _relative(path)
    own = _layer(module)
    for imported in sorted(_imported(path)):
        target = imported if (PACKAGE / imported).is_dir() is False else imported + "/__init__"
        assert _layer(target) <= own, (
            f"{module} ({LAYERS[own][0]}) imports {imported} ({LAYERS[_layer(target)][0]})"
        )


def test_the_architecture_page_lists_the_layers_in_this_order() -> None:
    page = ARCHITECTURE.read_text(encoding="utf-8")
    section = page.partition("## Layers")[2].partition("\n## ")[0]
    named = re.findall(r"^\d+\. \*\*([a-z ]+)\*\*", section, flags=re.MULTILINE)
    assert named == [name for name, _ in reversed(LAYERS)]
