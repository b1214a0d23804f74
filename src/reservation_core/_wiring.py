"""What both services are made of: the use cases, admission, hooks and retry (private)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from reservation_core._admission import Admission
from reservation_core._observing import Observer
from reservation_core._retry import RetryPolicy
from reservation_core._use_cases import UseCases
from reservation_core._validation import check_service_options
from reservation_core.instrumentation import Hooks


class Wiring:
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
    ) -> None:
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
