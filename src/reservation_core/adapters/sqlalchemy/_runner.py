"""What the repositories run statements on: a unit of work's connection, in its transaction.

Kept apart from the unit of work so that the repositories depend on this small object and
not on the unit of work that owns them (no import cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, CursorResult
from sqlalchemy.sql import Executable

from reservation_core.domain import Reservation

from ._dialects._base import DialectRules
from ._errors import Classifier, UniqueViolation, translated


class Runner:
    """Runs statements on ``connection`` once ``ensure_transaction`` has made it ready."""

    __slots__ = ("_classify", "_ensure", "connection", "rules")

    def __init__(
        self,
        connection: Connection,
        rules: DialectRules,
        ensure_transaction: Callable[[], None],
    ) -> None:
        self.connection = connection
        self.rules = rules
        self._classify: Classifier = rules.classify
        self._ensure = ensure_transaction

    def execute(self, statement: Executable, params: dict[str, Any]) -> CursorResult[Any]:
        """Run one statement in the unit of work's transaction, errors translated."""
        with translated(self._classify):
            self._ensure()
            return self.connection.execute(statement, params)

    def insert_group(self, group: list[Reservation]) -> None:
        """Insert a decided group, the dialect's fastest way (see ``DialectRules``)."""
        with translated(self._classify):
            self._ensure()
            self.rules.insert_group(self.connection, group)

    def book(self, reservation: Reservation) -> bool:
        """Take seats and insert the reservation the dialect's fastest safe way."""
        with translated(self._classify):
            self._ensure()
            return self.rules.book(self.connection, reservation)

    def transition(self, params: dict[str, Any]) -> bool:
        """Compare-and-set a reservation's status and append its event."""
        with translated(self._classify):
            self._ensure()
            return self.rules.transition(self.connection, params)

    @staticmethod
    def unless_taken(write: Callable[[], object]) -> bool:
        """Run ``write``; ``False`` instead of an error if a unique constraint refused it."""
        try:
            write()
        except UniqueViolation:
            return False
        return True
