"""Core statements compiled once per dialect, run with the driver's own ``execute`` (private)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


class DriverSQL:
    """Core statements compiled once per dialect, to run with the driver's own ``execute``.

    Skips the per-call compile-cache lookup and bind processing (the caller passes
    driver-ready values), for the statements run while the schedule row is locked. The
    parameters are given by name and passed in the driver's own paramstyle: a dict for
    ``pyformat``/``named``, a tuple in the compiled order for ``format``/``qmark``.

    Several statements (or plain SQL text without parameters, such as ``"COMMIT"``) make
    one ``;``-separated script, for a connection that accepts several statements in one
    round trip; their parameter names are shared.
    """

    def __init__(
        self, *statements: ClauseElement | str, column_keys: Sequence[str] | None = None
    ) -> None:
        self._statements = statements
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[tuple[type[Dialect], str], tuple[str, Callable[..., Any]]] = {}

    def for_dialect(self, dialect: Dialect) -> tuple[str, Callable[[dict[str, Any]], Any]]:
        """The SQL text for ``dialect`` and the function shaping its parameters."""
        key = (type(dialect), dialect.paramstyle)
        found = self._compiled.get(key)
        if found is None:
            texts: list[str] = []
            order: list[str] = []
            positional = False
            for statement in self._statements:
                if isinstance(statement, str):
                    texts.append(statement)
                    continue
                compiled = statement.compile(dialect=dialect, column_keys=self._column_keys)
                assert isinstance(compiled, SQLCompiler)  # noqa: S101 - a Core statement's compiler
                texts.append(str(compiled))
                positional = compiled.positional
                order += compiled.positiontup or []
            if positional:
                names = tuple(order)

                def shape(params: dict[str, Any]) -> Any:
                    return tuple(params[name] for name in names)

            else:

                def shape(params: dict[str, Any]) -> Any:
                    return params

            found = self._compiled[key] = ("; ".join(texts), shape)
        return found
