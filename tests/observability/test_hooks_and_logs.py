"""Retries, give-ups and outcomes are visible: log records and hook calls, on real conflicts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import update

from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.adapters.sqlalchemy import metadata, schedules
from reservation_core.instrumentation import Hooks, Outcome, RetryEvent
from tests.backends import Backend, sql_backend
from tests.concurrency.race import outcomes, race
from tests.databases import database_url, make_engine


class Recorder(Hooks):
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.retries: list[RetryEvent] = []
        self.outcomes: list[Outcome] = []
        self.inside: list[bool] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def _scope(self, operation: str) -> Iterator[None]:
        self._local.current = operation
        try:
            yield
        finally:
            self._local.current = None

    def on_call(self, operation: str):  # type: ignore[no-untyped-def]
        with self._lock:
            self.calls.append(operation)
        return self._scope(operation)

    def on_retry(self, event: RetryEvent) -> None:
        with self._lock:
            self.retries.append(event)

    def on_outcome(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)
            self.inside.append(getattr(self._local, "current", None) == outcome.operation)


#: Engine options that make a lock wait give up fast: a conflict, at once or nearly.
_IMPATIENT = {
    "postgresql": {"connect_args": {"options": "-c lock_timeout=50"}},
    "mariadb": {"connect_args": {"init_command": "SET SESSION innodb_lock_wait_timeout = 1"}},
}


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def impatient(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A backend whose calls give up waiting for a lock quickly (a transient conflict)."""
    name: str = request.param
    if name == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'busy.sqlite3'}", connect_args={"timeout": 0})
    else:
        request.getfixturevalue(f"{name}_engine")  # the rc_ tables exist
        engine = make_engine(database_url(name), **_IMPATIENT[name])
    metadata.create_all(engine)
    yield sql_backend(name, engine)
    engine.dispose()


@contextmanager
def lock_held(backend: Backend, schedule_id: str, until: threading.Event) -> Iterator[None]:
    """Another transaction holds the schedule's row (SQLite: the database) until ``until``."""
    engine = backend.engine
    ready = threading.Event()

    def hold() -> None:
        with engine.connect() as blocker:
            if backend.name == "sqlite":
                blocker.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                blocker.execute(
                    update(schedules).where(schedules.c.id == schedule_id).values(capacity=5)
                )
            ready.set()
            until.wait(timeout=60)
            blocker.rollback()

    holder = threading.Thread(target=hold)
    holder.start()
    ready.wait(timeout=30)
    try:
        yield
    finally:
        until.set()
        holder.join()


def test_every_call_has_an_outcome_inside_its_context(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    recorder = Recorder()
    service = backend.service(hooks=recorder)
    sid = new_id("s")
    service.create_schedule(sid, 1)
    booking = service.create_reservation(sid, "u1")
    for refused in (
        lambda: service.create_reservation(sid, "u2"),
        lambda: service.get_schedule(""),
        lambda: service.refund_reservation(booking.id, user_id="someone-else"),
    ):
        with pytest.raises(BusinessException):
            refused()
    assert recorder.calls == [
        "create_schedule",
        "create_reservation",
        "create_reservation",
        "get_schedule",
        "refund_reservation",
    ]
    assert [(o.operation, o.code) for o in recorder.outcomes] == [
        ("create_schedule", "OK"),
        ("create_reservation", "OK"),
        ("create_reservation", "CAPACITY_EXCEEDED"),
        ("get_schedule", "VALIDATION_ERROR"),
        ("refund_reservation", "RESERVATION_NOT_FOUND"),
    ]
    assert all(recorder.inside)
    assert all(o.duration >= 0 for o in recorder.outcomes)


def test_a_hook_that_fails_never_fails_the_call(
    backend: Backend, new_id: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Hooks):
        def on_call(self, operation: str):  # type: ignore[no-untyped-def]
            raise RuntimeError("tracing backend down")

        def on_outcome(self, outcome: Outcome) -> None:
            raise RuntimeError("metrics backend down")

    recorder = Recorder()
    service = backend.service(hooks=[Broken(), recorder])
    sid = new_id("s")
    with caplog.at_level(logging.ERROR, logger="reservation_core"):
        assert service.create_schedule(sid, 3).capacity == 3
    assert [o.code for o in recorder.outcomes] == ["OK"]
    failures = [r for r in caplog.records if r.name == "reservation_core.instrumentation"]
    assert len(failures) == 2


def test_hooks_must_be_hooks() -> None:
    with pytest.raises(TypeError, match="hooks must be Hooks"):
        ReservationService(lambda: None, hooks=[print])  # type: ignore[arg-type, list-item, return-value]


def test_a_retry_storm_is_logged_and_told_to_the_hooks(
    impatient: Backend, new_id: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    """Ten bookings on a schedule another transaction holds: each gives up waiting for
    the lock, retries, and books once the lock is free (after twenty retries)."""
    released = threading.Event()

    class Counting(Recorder):
        def on_retry(self, event: RetryEvent) -> None:
            super().on_retry(event)
            if len(self.retries) >= 20:
                released.set()

    recorder = Counting()
    service = impatient.service(hooks=recorder, max_concurrent_per_schedule=None)
    sid = new_id("s")
    service.create_schedule(sid, 20)
    with (
        caplog.at_level(logging.INFO, logger="reservation_core"),
        lock_held(impatient, sid, until=released),
    ):
        results = race([lambda n=n: service.create_reservation(sid, f"u{n}") for n in range(10)])
    assert outcomes(results) == {"ok": 10}
    assert len(recorder.retries) >= 20
    assert {e.operation for e in recorder.retries} == {"create_reservation"}
    assert {e.cause for e in recorder.retries} == {"TransientConflict"}
    assert all(e.attempt >= 1 and e.delay >= 0 for e in recorder.retries)
    retried = [r for r in caplog.records if r.name == "reservation_core.retry"]
    assert len(retried) == len(recorder.retries)
    assert all(r.levelno == logging.INFO and r.operation == "create_reservation" for r in retried)
    booked = [o for o in recorder.outcomes if o.operation == "create_reservation"]
    assert [o.code for o in booked] == ["OK"] * 10


def test_a_give_up_is_a_warning_and_an_outcome(
    impatient: Backend, new_id: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    service = impatient.service(hooks=recorder, max_attempts=2, max_concurrent_per_schedule=None)
    sid = new_id("s")
    service.create_schedule(sid, 5)
    with (
        caplog.at_level(logging.INFO, logger="reservation_core"),
        lock_held(impatient, sid, until=threading.Event()),
        pytest.raises(BusinessException) as info,
    ):
        service.create_reservation(sid, "u1")
    assert info.value.code is ErrorCode.CONCURRENCY_CONFLICT
    assert info.value.details == {"attempts": 2}
    records = [(r.levelname, r.name) for r in caplog.records]
    assert records == [("INFO", "reservation_core.retry"), ("WARNING", "reservation_core.retry")]
    assert [e.attempt for e in recorder.retries] == [1]
    assert recorder.outcomes[-1].code == "CONCURRENCY_CONFLICT"


def test_nothing_is_logged_for_calls_that_simply_succeed(
    backend: Backend, new_id: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    service = backend.service()
    sid = new_id("s")
    with caplog.at_level(logging.DEBUG, logger="reservation_core"):
        service.create_schedule(sid, 2)
        booking = service.create_reservation(sid, "u1")
        service.cancel_reservation(booking.id)
        with pytest.raises(BusinessException):
            service.cancel_reservation(booking.id)
    assert [r for r in caplog.records if r.name.startswith("reservation_core")] == []
