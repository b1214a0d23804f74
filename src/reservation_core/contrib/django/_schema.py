"""Django migrations that apply the package's Alembic revisions (private).

The ``rc_`` schema has one definition, the Alembic branch ``reservation_core``: each Django
migration here runs one of its revisions, rendered by Alembic for the database behind the
Django connection and executed by Django's schema editor. A revision added to the branch
gets a Django migration of three lines (:func:`revision_operation`); a test checks that
every revision has one.
"""

from __future__ import annotations

import io
from typing import Any

from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from django.db import migrations

from reservation_core.migrations import SCRIPT_DIRECTORY

from ._connection import dialect_for

_TERMINATOR = ";"
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT"})


def revision_sql(revision: str, schema_editor: Any, direction: str) -> list[str]:
    """The statements of an Alembic revision's ``upgrade`` or ``downgrade`` for a database."""
    module = ScriptDirectory(str(SCRIPT_DIRECTORY)).get_revision(revision).module
    output = io.StringIO()
    context = MigrationContext.configure(
        dialect=dialect_for(schema_editor.connection, schema=True),
        opts={"as_sql": True, "output_buffer": output, "literal_binds": True},
    )
    with Operations.context(context):
        getattr(module, direction)()
    # Alembic writes each statement with its terminator and a blank line.
    chunks = output.getvalue().split(f"{_TERMINATOR}\n\n")
    # A revision's autocommit block (CREATE INDEX CONCURRENTLY) is rendered between a
    # COMMIT and a BEGIN; its Django migration is not atomic, so each statement commits.
    return [
        chunk.strip()
        for chunk in chunks
        if chunk.strip() and chunk.strip().upper() not in _TRANSACTION_CONTROL
    ]


def revision_operation(revision: str) -> migrations.RunPython:
    """A Django migration operation that applies (and reverts) one Alembic revision."""

    def run(direction: str) -> Any:
        def apply(apps: Any, schema_editor: Any) -> None:
            for statement in revision_sql(revision, schema_editor, direction):
                schema_editor.execute(statement, params=None)

        return apply

    # Not atomic: MariaDB cannot roll DDL back, and Django refuses DDL inside a transaction there.
    return migrations.RunPython(run("upgrade"), run("downgrade"), atomic=False, elidable=False)
