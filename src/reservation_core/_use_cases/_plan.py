"""What a use case is: a plan of steps, and the state every plan shares (private)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeAlias, TypeVar

from reservation_core.domain._validation import utc_clock_reading
from reservation_core.ports import AbstractUnitOfWork

T = TypeVar("T")


class Step(NamedTuple):
    """One transaction of a plan: ``use_case`` in a fresh unit of work, retried whole.

    ``booking`` names the schedule a booking takes seats on (for admission control);
    ``member`` is a plain booking's ``(user_id, quantity)``, which may instead be booked
    with others of the same schedule in one transaction (group commit).
    """

    use_case: Callable[[AbstractUnitOfWork], Any]
    booking: str | None = None
    member: tuple[str, int] | None = None


#: A use case: yields the steps to run, receives each one's result, returns the answer.
Plan: TypeAlias = Generator[Step, Any, T]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


#: The longest ``hold_for``: far below what a ``datetime`` can add without overflow.
MAX_HOLD = timedelta(days=365)
DEFAULT_HOLD = timedelta(minutes=10)


class Cases:
    """The clock and idempotency TTL every group of use cases reads."""

    __slots__ = ("_clock", "_idempotency_ttl")

    def __init__(self, clock: Callable[[], datetime], idempotency_ttl: timedelta) -> None:
        self._clock = clock
        self._idempotency_ttl = idempotency_ttl

    def _now(self) -> datetime:
        """The clock's time in UTC; a clock that breaks its promise is ``VALIDATION_ERROR``.

        The clock is an argument of the service, so a bad reading is reported as one,
        naming the field ``clock``, before anything is written.
        """
        return utc_clock_reading(self._clock())
