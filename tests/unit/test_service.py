"""The service's own mechanics: retries, clock, unit-of-work boundaries."""

from __future__ import annotations

from datetime import datetime

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


def test_naive_clock_is_refused(store: InMemoryStore) -> None:
    service = ReservationService(lambda: InMemoryUnitOfWork(store), clock=datetime.now)
    service.create_schedule("s", 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        service.create_reservation("s", "a")


@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"max_attempts": True}, {"retry_backoff": -1}],
)
def test_bad_options_are_refused(store: InMemoryStore, options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        ReservationService(lambda: InMemoryUnitOfWork(store), **options)  # type: ignore[arg-type]
