"""The adapter's Core statements run on a Django database connection (private).

:class:`DjangoConnection` offers what the shared repositories and dialect rules call on a
SQLAlchemy ``Connection`` (``dialect``, ``execute``, ``exec_driver_sql``), so that the
statements, repositories and per-database rules stay one definition: each Core statement
is compiled once per database for the driver Django uses, its parameters go through the
column types' own bind processing (``UtcDateTime`` among them), and the rows through their
result processing. Django's errors are handed on as SQLAlchemy's ``DBAPIError`` around the
driver's own exception, which the dialect's error readers already understand.
"""

from __future__ import annotations

import collections
import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeGuard

from django.db import Error as DjangoError
from django.db.backends.base.base import BaseDatabaseWrapper
from sqlalchemy import Dialect, exc
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeDecorator

from reservation_core.adapters.sqlalchemy._errors import UnsupportedDatabaseError

_SUPPORTED = "Django's sqlite3, postgresql (psycopg or psycopg2) and mysql (MariaDB/MySQL)"
_CACHE_SIZE = 256


def dialect_for(connection: BaseDatabaseWrapper, *, schema: bool = False) -> Dialect:
    """The SQLAlchemy dialect of the driver behind a Django connection, ``format`` style.

    ``%s`` placeholders are what every Django backend takes (its SQLite cursor turns them
    into ``?``). For the ``schema`` (DDL), MariaDB gets the ``mariadb`` dialect, as its
    exact-match collation differs from MySQL's; asking the server which it is needs a
    connection, so the statements of the use cases, the same on both, do not ask.

    Raises:
        UnsupportedDatabaseError: not one of Django's SQLite, PostgreSQL or MySQL backends.
    """
    vendor = connection.vendor
    if vendor == "sqlite":
        name = "sqlite+pysqlite"
    elif vendor == "postgresql":
        from django.db.backends.postgresql.psycopg_any import is_psycopg3  # noqa: PLC0415

        name = "postgresql+psycopg" if is_psycopg3 else "postgresql+psycopg2"
    elif vendor == "mysql":
        mariadb = schema and bool(connection.mysql_is_mariadb)
        name = "mariadb+mysqldb" if mariadb else "mysql+mysqldb"
    else:
        raise UnsupportedDatabaseError(
            "STORAGE_UNAVAILABLE",
            f"reservation_core does not support Django's {vendor} backend; supported: {_SUPPORTED}",
            details={"reason": "unsupported_database", "dialect": vendor},
        )
    dialect_class: Any = make_url(f"{name}://").get_dialect()
    dialect: Dialect = dialect_class(dbapi=dialect_class.import_dbapi(), paramstyle="format")
    return dialect


class _Compiled:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = (
        "_compiled",
        "_expands",
        "_names",
        "_processors",
        "_row",
        "returns_rows",
        "sql",
    )

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)  # noqa: S101 - a Core statement's compiler
        self._compiled = compiled
        self.sql = str(compiled)
        self._names = tuple(compiled.positiontup or ())
        escaped = compiled.escaped_bind_names
        self._processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[escaped.get(name, name)] = processor
        # An IN of a list or a LIMIT: SQL whose text depends on the values, made per call.
        self._expands = bool(compiled.post_compile_params or compiled.literal_execute_params)
        self.returns_rows = isinstance(statement, Select)
        self._row: Callable[[Sequence[Any]], Any] | None = None
        if isinstance(statement, Select):
            self._row = _row_maker(statement, dialect)

    def bound(self, params: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """The SQL and the driver's parameters, processed by the column types, in order."""
        if self._expands:
            state = self._compiled.construct_expanded_state(params)
            processors = {**self._processors, **state.processors}
            values, names, sql = state.parameters, state.positiontup or (), state.statement
        else:
            values = self._compiled.construct_params(params)
            processors, names, sql = self._processors, self._names, self.sql
        return sql, tuple(
            processors[name](values[name]) if name in processors else values[name] for name in names
        )

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        """The fetched rows with attribute access by column key, results processed."""
        make = self._row
        return [] if make is None else [make(row) for row in raw]


def _row_maker(statement: Select[Any], dialect: Dialect) -> Callable[[Sequence[Any]], Any]:
    columns = list(statement.selected_columns)
    fields = [str(column.key) for column in columns]
    row_type = collections.namedtuple("Row", fields, rename=True)  # type: ignore[misc]
    # Django's backends already return Python values (datetime, int, str); what remains is
    # the step reservation_core's own column types add (UtcDateTime: an aware UTC value).
    converters: list[Callable[[Any], Any] | None] = []
    for column in columns:
        impl = column.type.dialect_impl(dialect)
        converters.append(
            functools.partial(impl.process_result_value, dialect=dialect)
            if _processes_results(impl)
            else None
        )

    def make(raw: Sequence[Any]) -> Any:
        return row_type(
            *(
                value if convert is None else convert(value)
                for convert, value in zip(converters, raw, strict=True)
            )
        )

    return make


def _processes_results(impl: object) -> TypeGuard[TypeDecorator[Any]]:
    """Whether a column type is a ``TypeDecorator`` with its own result step."""
    return (
        isinstance(impl, TypeDecorator)
        and type(impl).process_result_value is not TypeDecorator.process_result_value
    )


class Result:
    """The part of SQLAlchemy's ``CursorResult`` the repositories use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        """The first row, or ``None``."""
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        """Every row."""
        return list(self._rows)

    def scalar_one(self) -> Any:
        """The only column of the only row."""
        (row,) = self._rows
        return row[0]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def scalars(self) -> list[Any]:
        """The first column of every row."""
        return [row[0] for row in self._rows]


#: Every statement compiled once per dialect (one per alias) and set of parameter names,
#: shared by the units of work of all threads (a lost race compiles twice, harmlessly).
_COMPILED: dict[tuple[Dialect, ClauseElement, tuple[str, ...]], _Compiled] = {}


class DjangoConnection:
    """Core statements on ``connection`` (a Django ``connections[alias]``), as on SQLAlchemy's."""

    def __init__(self, connection: BaseDatabaseWrapper, dialect: Dialect) -> None:
        self.connection = connection
        self.dialect = dialect
        self.lost = False

    def execute(
        self, statement: ClauseElement, params: dict[str, Any] | Sequence[dict[str, Any]]
    ) -> Result:
        """Run a Core statement with its parameters by name.

        A list of parameter dicts runs it once per dict (``executemany``), as SQLAlchemy's
        ``Connection.execute`` does: how an order's lines and a schedule's pools are inserted.
        """
        if not isinstance(params, dict):
            rows = list(params)
            compiled = self._compiled(statement, rows[0])
            bound = [compiled.bound(row) for row in rows]
            return self._run(bound[0][0], [values for _, values in bound], None, many=True)
        compiled = self._compiled(statement, params)
        sql, values = compiled.bound(params)
        return self._run(sql, values, compiled)

    def _compiled(self, statement: ClauseElement, params: dict[str, Any]) -> _Compiled:
        keys = tuple(sorted(params))
        key = (self.dialect, statement, keys)
        compiled = _COMPILED.get(key)
        if compiled is None:
            if len(_COMPILED) >= _CACHE_SIZE:  # statements built per call (audit filters)
                _COMPILED.clear()
            compiled = _COMPILED[key] = _Compiled(statement, self.dialect, keys)
        return compiled

    def exec_driver_sql(self, sql: str, params: Any) -> Result:
        """Run SQL in the driver's ``format`` style with driver-ready parameters."""
        return self._run(sql, params, None)

    def _run(
        self, sql: str, params: Any, compiled: _Compiled | None, *, many: bool = False
    ) -> Result:
        with self.errors(sql, params), self.connection.cursor() as cursor:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            rowcount = cursor.rowcount
            raw = cursor.fetchall() if compiled is not None and compiled.returns_rows else []
        return Result([] if compiled is None else compiled.rows(raw), rowcount)

    @contextlib.contextmanager
    def errors(self, sql: str | None = None, params: Any = None) -> Iterator[None]:
        """Hand Django's database errors on as SQLAlchemy's, around the driver's exception."""
        try:
            yield
        except DjangoError as error:
            cause = error.__cause__
            driver_error = cause if isinstance(cause, Exception) else error
            raw = self.connection.connection
            try:
                lost = bool(self.dialect.is_disconnect(driver_error, raw, None))  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - a reader that cannot tell: not a lost connection
                lost = False
            self.lost = self.lost or lost
            raise exc.DBAPIError.instance(
                sql or "", params, driver_error, Exception, connection_invalidated=lost
            ) from error
