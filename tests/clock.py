"""A clock tests move by hand, for the service's ``clock=`` option."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    """Starts at 2026-01-01 12:00 UTC and moves only when a test sets ``now``."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now
