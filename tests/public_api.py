"""The public API as text: every public module's ``__all__`` and what each name looks like.

A module is public when no part of its dotted path starts with an underscore; its public
names are its ``__all__`` (a module without ``__all__`` has none). For each name the
snapshot records one fact per line: a function's signature; a class's kind and bases, its
constructor, public methods (``abstract`` marked), properties and annotated attributes; an
enum's members; a constant's type and value. A name that is the same object as one already
described is recorded as an alias.

``tests/test_public_api.py`` compares this with ``tests/public_api.txt``. After an intended
change, add a CHANGELOG.md line under ``[Unreleased]``, then regenerate the file::

    python -m tests.public_api --update

The update is refused while the ``[Unreleased]`` section is the same as at the last update,
so the snapshot and the changelog change together. After merging two branches that both
changed the API, run it once more on the merged code.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import hashlib
import importlib
import inspect
import os
import pkgutil
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path, PurePath
from typing import Any

import reservation_core

SNAPSHOT = Path(__file__).with_name("public_api.txt")
CHANGELOG = Path(__file__).parents[1] / "CHANGELOG.md"
PACKAGE = "reservation_core"
#: Alembic's scripts inside the package: Alembic loads them, nobody imports them.
NOT_IMPORTABLE = ("reservation_core.migrations.env", "reservation_core.migrations.versions")
#: Dunder methods that are part of how a class is used.
PUBLIC_DUNDERS = frozenset({"__call__", "__enter__", "__exit__", "__aenter__", "__aexit__"})
#: Values recorded by type only: they change with every release or every machine.
TYPE_ONLY = frozenset({"__version__"})
HEADER = """\
# The public API of reservation_core, compared by tests/test_public_api.py.
# After an intended change: add a CHANGELOG.md line under [Unreleased], then run
# `python -m tests.public_api --update` (docs/reference.md: the deprecation policy).
"""
DIGEST_LINE = "# CHANGELOG.md [Unreleased] at the last update, sha256: "


class UpdateRefused(Exception):
    """The API changed but CHANGELOG.md's [Unreleased] section did not."""


def public_modules() -> list[str]:
    """The dotted names of the public modules that declare ``__all__``, sorted."""
    names = [PACKAGE]
    for info in pkgutil.walk_packages(reservation_core.__path__, f"{PACKAGE}."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts):
            continue
        if info.name.startswith(NOT_IMPORTABLE):
            continue
        names.append(info.name)
    return sorted(name for name in names if hasattr(importlib.import_module(name), "__all__"))


def snapshot() -> str:
    """The API of the code as it is now, as the snapshot's lines (comments aside)."""
    described: dict[int, str] = {}
    lines: list[str] = []
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        lines.append(f"\n[{module_name}]")
        for name in sorted(module.__all__):
            path = f"{module_name}.{name}"
            value = getattr(module, name)
            if isinstance(value, type | types.FunctionType) and id(value) in described:
                lines.append(f"{path} = {described[id(value)]}")
                continue
            if isinstance(value, type | types.FunctionType):
                described[id(value)] = path
            lines.extend(_describe(path, name, value))
    return "\n".join(lines).lstrip("\n") + "\n"


def api_of(text: str) -> str:
    """The API part of a snapshot file's text: everything but its comment lines."""
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("#")]
    return "".join(lines).lstrip("\n")


def unreleased_digest(changelog: str) -> str:
    """The sha256 of CHANGELOG.md's ``## [Unreleased]`` section."""
    section = changelog.partition("## [Unreleased]")[2].partition("\n## [")[0]
    return hashlib.sha256(section.encode()).hexdigest()


def update(snapshot_path: Path = SNAPSHOT, changelog_path: Path = CHANGELOG) -> bool:
    """Rewrite the snapshot; returns whether the API part changed.

    Raises:
        UpdateRefused: the API changed, but the [Unreleased] section of the changelog is
            the same as at the last update: the change has no CHANGELOG.md line yet.
    """
    current = snapshot()
    digest = unreleased_digest(changelog_path.read_text(encoding="utf-8"))
    old = snapshot_path.read_text(encoding="utf-8") if snapshot_path.exists() else ""
    changed = api_of(old) != current
    if changed and old and f"{DIGEST_LINE}{digest}" in old.splitlines():
        raise UpdateRefused(
            f"The public API changed, but {changelog_path.name}'s [Unreleased] section has not "
            "changed since the snapshot was last updated: add a line saying what changed "
            "(Added, Changed, Deprecated or Removed), then update again."
        )
    snapshot_path.write_text(f"{HEADER}{DIGEST_LINE}{digest}\n\n{current}", encoding="utf-8")
    return changed


def _describe(path: str, name: str, value: Any) -> Iterator[str]:
    if isinstance(value, type):
        yield from _describe_class(path, value)
    elif callable(value):
        yield f"{path}{_signature(value)}"
    elif name in TYPE_ONLY:
        yield f"{path}: {type(value).__name__}"
    else:
        yield f"{path}: {_value_type(value)} = {_value(value)}"


def _value_type(value: Any) -> str:
    # PosixPath on one system, WindowsPath on another: the API is a Path.
    return "Path" if isinstance(value, PurePath) else type(value).__name__


def _public_bases(cls: type) -> list[type]:
    """``cls``'s bases, a private one (a leading underscore in its path) replaced by its own.

    A private base is how the package is built, not its API: moving or renaming it must
    not change the snapshot.
    """
    bases: list[type] = []
    for base in cls.__bases__:
        private = any(part.startswith("_") for part in base.__module__.split("."))
        private = private or base.__qualname__.startswith("_")
        for found in _public_bases(base) if private else [base]:
            if found not in bases:
                bases.append(found)
    return bases


def _describe_class(path: str, cls: type) -> Iterator[str]:
    bases = ", ".join(_type_name(base) for base in _public_bases(cls))
    if issubclass(cls, enum.Enum):
        yield f"{path}: enum({bases})"
        for member in cls:
            yield f"{path}.{member.name} = {member.value!r}"
        return
    if dataclasses.is_dataclass(cls):
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        yield f"{path}: dataclass(frozen={params.frozen}), class({bases})"
    else:
        yield f"{path}: class({bases})"
    # A Protocol's __init__ is typing's, not an API; a dataclass's is generated.
    is_protocol = getattr(cls, "_is_protocol", False)
    if (_own(cls, "__init__") and not is_protocol) or dataclasses.is_dataclass(cls):
        yield f"{path}{_signature(cls)}"
    yield from _attributes(path, cls)
    for name, kind, member in _members(cls):
        if kind == "property":
            yield f"{path}.{name}: property -> {_annotation(_return_of(member.fget))}"
        else:
            marker = "abstract " if getattr(member, "__isabstractmethod__", False) else ""
            prefix = "" if kind == "method" else f"{kind} "
            yield f"{path}.{name}{_signature(member)}  # {marker}{prefix}method".rstrip()


def _project_classes(cls: type) -> list[type]:
    return [klass for klass in cls.__mro__ if klass.__module__.startswith(PACKAGE)]


def _own(cls: type, name: str) -> bool:
    return any(name in vars(klass) for klass in _project_classes(cls))


def _attributes(path: str, cls: type) -> Iterator[str]:
    fields = (
        {field.name for field in dataclasses.fields(cls)}
        if dataclasses.is_dataclass(cls)
        else set()
    )
    seen: set[str] = set()
    for klass in _project_classes(cls):
        for name, annotation in inspect.get_annotations(klass).items():
            if name.startswith("_") or name in fields or name in seen:
                continue
            seen.add(name)
            yield f"{path}.{name}: {_annotation(annotation)}"


def _members(cls: type) -> Iterator[tuple[str, str, Any]]:
    seen: set[str] = set()
    found: list[tuple[str, str, Any]] = []
    for klass in _project_classes(cls):
        for name, raw in vars(klass).items():
            if name in seen or (name.startswith("_") and name not in PUBLIC_DUNDERS):
                continue
            seen.add(name)
            if isinstance(raw, property):
                found.append((name, "property", raw))
            elif isinstance(raw, staticmethod):
                found.append((name, "static", raw.__func__))
            elif isinstance(raw, classmethod):
                found.append((name, "class", raw.__func__))
            elif inspect.isfunction(raw):
                found.append((name, "method", raw))
    yield from sorted(found)


def _return_of(function: Callable[..., Any]) -> Any:
    return inspect.signature(function).return_annotation


def _signature(callable_: Callable[..., Any]) -> str:
    signature = inspect.signature(callable_)
    parts: list[str] = []
    positional_only = False
    keyword_marker_needed = True
    for parameter in signature.parameters.values():
        kind = parameter.kind
        if positional_only and kind is not inspect.Parameter.POSITIONAL_ONLY:
            parts.append("/")
            positional_only = False
        if kind is inspect.Parameter.POSITIONAL_ONLY:
            positional_only = True
        if kind is inspect.Parameter.VAR_POSITIONAL:
            keyword_marker_needed = False
        if kind is inspect.Parameter.KEYWORD_ONLY and keyword_marker_needed:
            parts.append("*")
            keyword_marker_needed = False
        parts.append(_parameter(parameter))
    if positional_only:
        parts.append("/")
    text = f"({', '.join(parts)})"
    if signature.return_annotation is not inspect.Signature.empty:
        text += f" -> {_annotation(signature.return_annotation)}"
    return text


def _parameter(parameter: inspect.Parameter) -> str:
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    text = stars.get(parameter.kind, "") + parameter.name
    if parameter.annotation is not inspect.Parameter.empty:
        text += f": {_annotation(parameter.annotation)}"
    if parameter.default is not inspect.Parameter.empty:
        text += f" = {_value(parameter.default)}"
    return text


def _annotation(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    return inspect.formatannotation(annotation)


def _type_name(cls: type) -> str:
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _value(value: Any) -> str:
    """A rendering that is the same on every Python, machine and run."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if value is None or isinstance(value, str | int | float | bool | timedelta):
        return repr(value)
    if isinstance(value, Mapping):
        items = sorted((_value(key), _value(item)) for key, item in value.items())
        return "{" + ", ".join(f"{key}: {item}" for key, item in items) + "}"
    if isinstance(value, tuple | frozenset):
        rendered = [_value(item) for item in value]
        return "(" + ", ".join(sorted(rendered) if isinstance(value, frozenset) else rendered) + ")"
    if inspect.isroutine(value) or inspect.isclass(value):
        return f"<{'class' if inspect.isclass(value) else 'function'} {value.__qualname__}>"
    # Paths, engines, tables: their repr names a machine or an address, not an API.
    return f"<{_value_type(value)}>"


def main(argv: list[str] | None = None) -> int:
    """``--update`` rewrites the snapshot; without it, print the current API."""
    parser = argparse.ArgumentParser(prog="python -m tests.public_api", description=__doc__)
    parser.add_argument("--update", action="store_true", help=f"rewrite {SNAPSHOT.name}")
    options = parser.parse_args(argv)
    # reservation_core.contrib.django's modules import Django models: Django must be set up,
    # as pytest-django does for the test.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.djangoapp.settings")
    import django

    django.setup()
    if not options.update:
        sys.stdout.write(snapshot())
        return 0
    try:
        changed = update()
    except UpdateRefused as refused:
        print(f"{SNAPSHOT}: not updated. {refused}", file=sys.stderr)
        return 1
    print(f"{SNAPSHOT}: {'updated' if changed else 'API unchanged'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
