"""The backends the contract and race suites run on, behind one small interface."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from reservation_core import ReservationService
from reservation_core.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from reservation_core.domain import ReservationStatus
from reservation_core.ports import AbstractUnitOfWork


@dataclasses.dataclass(frozen=True)
class Tally:
    """A schedule as stored, beside what its reservations say it should be."""

    capacity: int
    reserved: int
    confirmed_quantity: int
    confirmed_count: int

    @property
    def consistent(self) -> bool:
        return 0 <= self.reserved <= self.capacity and self.reserved == self.confirmed_quantity


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    make_uow: Callable[[], AbstractUnitOfWork]
    tally: Callable[[str], Tally]
    threads_share_pool: int = 100  # how many connections the race tests may hold at once

    def service(self, **options: Any) -> ReservationService:
        options.setdefault("retry_backoff", 0.001)
        options.setdefault("max_attempts", 30)
        return ReservationService(self.make_uow, **options)


def memory_backend() -> Backend:
    store = InMemoryStore()

    def tally(schedule_id: str) -> Tally:
        with store.lock:
            schedule = store.schedules[schedule_id]
            confirmed = [
                r
                for r in store.reservations.values()
                if r.schedule_id == schedule_id and r.status is ReservationStatus.CONFIRMED
            ]
        return Tally(
            schedule.capacity,
            schedule.reserved,
            sum(r.quantity for r in confirmed),
            len(confirmed),
        )

    return Backend("memory", lambda: InMemoryUnitOfWork(store), tally)
