"""What both services are made of: the use cases, admission, hooks and retry (private)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from reservation_core._running.admission import Admission
from reservation_core._running.grouping import GroupCommit, Member
from reservation_core._running.observing import Observer
from reservation_core._running.retry import RetryPolicy
from reservation_core._use_cases import UseCases
from reservation_core.domain._validation import check_service_options
from reservation_core.instrumentation import Hooks
from reservation_core.ports import AbstractAsyncUnitOfWork, AbstractUnitOfWork

U = TypeVar("U", AbstractUnitOfWork, AbstractAsyncUnitOfWork | AbstractUnitOfWork)


class ServiceBase:
    """The options of a service, checked, and the parts built from them."""

    def __init__(
        self,
        uow_factory: Callable[[], object],
        *,
        clock: Callable[[], datetime],
        max_attempts: int,
        retry_backoff: float,
        idempotency_ttl: timedelta,
        max_concurrent_per_schedule: int | None,
        hooks: Hooks | Sequence[Hooks] | None,
        group_commit: bool,
    ) -> None:
        if not isinstance(group_commit, bool):
            raise TypeError(f"group_commit must be a bool, not {type(group_commit).__name__}")
        check_service_options(
            uow_factory=uow_factory,
            clock=clock,
            max_attempts=max_attempts,
            retry_backoff=retry_backoff,
            idempotency_ttl=idempotency_ttl,
            max_concurrent_per_schedule=max_concurrent_per_schedule,
        )
        self._cases = UseCases(clock, idempotency_ttl)
        self._admission = (
            None if max_concurrent_per_schedule is None else Admission(max_concurrent_per_schedule)
        )
        self._observer = Observer(hooks)
        self._retry = RetryPolicy(max_attempts, retry_backoff, self._observer.retried)
        self._groups = GroupCommit() if group_commit else None
        # Group commit starts once the factory is seen to give units of work of their own,
        # and stops for good if it gives one inside a host's transaction.
        self._own_units = False

    def _grouping(
        self, member: tuple[str, int] | None, booking: str | None
    ) -> tuple[GroupCommit, Member] | None:
        """The groups and the step's place in them, or ``None``: it runs alone.

        ``_groups`` is read once: another thread may switch grouping off meanwhile.
        """
        groups = self._groups
        if groups is None or member is None or booking is None or not self._own_units:
            return None
        return groups, Member(booking, *member)

    def _seen(self, uow: U) -> U:
        """Note whether a unit of work from the factory is one of its own; return it."""
        if not uow.retryable:
            self._groups = None  # inside the host's transaction: never group commit
        elif self._groups is not None and not self._own_units:
            self._own_units = True
            if getattr(uow, "_one_writer", False):  # SQLite, the in-memory store: one writer
                self._groups.one_at_a_time()
        return uow

    @staticmethod
    def _members(group: list[Member]) -> list[tuple[str, str, int]]:
        return [(member.schedule_id, member.user_id, member.quantity) for member in group]
