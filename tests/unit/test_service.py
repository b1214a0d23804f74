"""The service's own mechanics: retries, clock, unit-of-work boundaries."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from reservation_core import BusinessException, ErrorCode, ReservationService, Schedule
from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from reservation_core.ports import ConnectionLost, TransientConflict


class FlakyUnitOfWork(InMemoryUnitOfWork):
    """Fails the first ``failures`` commits with ``error``."""

    failures = 0
    error: type[Exception] = TransientConflict

    def commit(self) -> None:
        if FlakyUnitOfWork.failures:
            FlakyUnitOfWork.failures -= 1
            raise self.error("injected")
        super().commit()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


def flaky_service(
    store: InMemoryStore, failures: int, error: type[Exception]
) -> ReservationService:
    FlakyUnitOfWork.failures = failures
    FlakyUnitOfWork.error = error
    return ReservationService(lambda: FlakyUnitOfWork(store), max_attempts=3, retry_backoff=0)


def test_transient_conflicts_are_retried(store: InMemoryStore) -> None:
    service = flaky_service(store, 2, TransientConflict)
    assert service.create_schedule("s", 3) == Schedule("s", 3, 0)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (TransientConflict, ErrorCode.CONCURRENCY_CONFLICT),
        (ConnectionLost, ErrorCode.STORAGE_UNAVAILABLE),
    ],
)
def test_retries_are_bounded_and_write_nothing(
    store: InMemoryStore, error: type[Exception], code: ErrorCode
) -> None:
    service = flaky_service(store, 3, error)
    with pytest.raises(BusinessException) as info:
        service.create_schedule("s", 3)
    assert info.value.code is code
    assert info.value.details == {"attempts": 3}
    assert store.schedules == {}


def test_uncommitted_work_is_rolled_back(store: InMemoryStore) -> None:
    with InMemoryUnitOfWork(store) as uow:
        uow.schedules.add(Schedule("s", 3, 0))
    assert store.schedules == {}


def test_work_is_rolled_back_on_error(store: InMemoryStore) -> None:
    with pytest.raises(RuntimeError), InMemoryUnitOfWork(store) as uow:
        uow.schedules.add(Schedule("s", 3, 0))
        uow.commit()
        uow.schedules.set_capacity("s", 9)
        raise RuntimeError
    assert store.schedules == {"s": Schedule("s", 3, 0)}
    assert not store.lock.locked()


def test_failed_use_case_leaves_store_as_it_was(store: InMemoryStore) -> None:
    service = ReservationService(lambda: InMemoryUnitOfWork(store))
    service.create_schedule("s", 1)
    service.create_reservation("s", "a")
    before = (dict(store.schedules), dict(store.reservations), dict(store.active))
    with pytest.raises(BusinessException):
        service.create_reservation("s", "b")
    assert (store.schedules, store.reservations, store.active) == before


@pytest.mark.parametrize(
    ("clock", "reason"),
    [
        (datetime.now, "timezone-aware"),
        (lambda: 1_700_000_000.0, "timezone-aware"),
        (lambda: datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), "from 1970 to 8999"),
        (lambda: datetime(1969, 12, 31, tzinfo=UTC), "from 1970 to 8999"),
        (lambda: datetime.max.replace(tzinfo=UTC), "from 1970 to 8999"),
    ],
)
def test_a_bad_clock_is_a_validation_error_naming_it(
    store: InMemoryStore, clock: Callable[[], object], reason: str
) -> None:
    service = ReservationService(lambda: InMemoryUnitOfWork(store), clock=clock)  # type: ignore[arg-type]
    service.create_schedule("s", 1)
    for use_case in (
        lambda: service.create_reservation("s", "a", idempotency_key="k"),
        service.purge_expired_idempotency_keys,
    ):
        with pytest.raises(BusinessException) as caught:
            use_case()
        assert caught.value.code is ErrorCode.VALIDATION_ERROR
        assert caught.value.details["field"] == "clock"
        assert reason in caught.value.details["reason"]
        json.dumps(caught.value.to_dict())
    assert store.reservations == {}
    assert service.get_schedule("s").reserved == 0


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts must be a positive int"),
        ({"max_attempts": True}, ValueError, "max_attempts must be a positive int"),
        ({"retry_backoff": -1}, ValueError, "retry_backoff must be between 0 and 60"),
        ({"retry_backoff": math.nan}, ValueError, "retry_backoff must be between 0 and 60"),
        ({"retry_backoff": math.inf}, ValueError, "retry_backoff must be between 0 and 60"),
        ({"retry_backoff": 1e300}, ValueError, "retry_backoff must be between 0 and 60"),
        ({"retry_backoff": "0.1"}, TypeError, "retry_backoff must be a number of seconds"),
        ({"idempotency_ttl": timedelta(0)}, ValueError, "idempotency_ttl must be positive"),
        ({"idempotency_ttl": timedelta.max}, ValueError, "at most 36500 days"),
        ({"idempotency_ttl": timedelta(days=800_000)}, ValueError, "at most 36500 days"),
        ({"idempotency_ttl": 3600}, TypeError, "idempotency_ttl must be a timedelta"),
        ({"clock": None}, TypeError, "clock must be a zero-argument callable"),
        ({"max_concurrent_per_schedule": 0}, ValueError, "max_concurrent_per_schedule"),
    ],
)
def test_bad_options_are_refused_at_construction(
    store: InMemoryStore, options: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ReservationService(lambda: InMemoryUnitOfWork(store), **options)  # type: ignore[arg-type]


def test_the_extreme_accepted_options_work(store: InMemoryStore) -> None:
    """The largest TTL and backoff accepted run replays, purges and retries without error."""
    FlakyUnitOfWork.failures, FlakyUnitOfWork.error = 1, TransientConflict
    service = ReservationService(
        lambda: FlakyUnitOfWork(store),
        idempotency_ttl=timedelta(days=36_500),
        retry_backoff=0,
        clock=lambda: datetime(1970, 1, 1, tzinfo=UTC),
    )
    service.create_schedule("s", 2)
    first = service.create_reservation("s", "a", idempotency_key="k")
    assert service.create_reservation("s", "a", idempotency_key="k") == first
    assert service.purge_expired_idempotency_keys() == 0
    assert ReservationService(lambda: FlakyUnitOfWork(store), retry_backoff=60.0)
