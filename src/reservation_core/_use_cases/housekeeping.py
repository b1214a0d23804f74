"""Housekeeping: every periodic job in one plan of bounded transactions (private).

Three jobs, in this order, each in batches of at most ``batch_size`` rows per transaction
so that a backlog never makes one long transaction or holds a lock long:

1. lapsed holds expire and their seats return, through the same rule every other path
   uses (``_rules.expire_holds``: schedule row first, a compare-and-set per hold), at
   most ``batch_size`` holds of one schedule per transaction;
2. idempotency keys older than the service's TTL are deleted;
3. events older than ``event_retention`` that every known consumer has acknowledged are
   deleted with their deliveries.

Safe from several processes at once: each change is a compare-and-set or a delete of
rows read under a lock (skipping rows another process holds, where the database can), so
work done twice is done once and counted once. Holds are those lapsed when the call
began, so the call ends even while new holds keep lapsing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from reservation_core._use_cases._plan import Cases, Plan, Step
from reservation_core._use_cases._rules import expire_holds
from reservation_core.domain import HousekeepingReport
from reservation_core.domain._validation import MAX_IDEMPOTENCY_TTL, check_batch, check_duration
from reservation_core.ports import AbstractUnitOfWork

#: How long acknowledged events are kept by default.
DEFAULT_EVENT_RETENTION = timedelta(days=7)
#: The most rows one housekeeping transaction changes, by default.
DEFAULT_BATCH_SIZE = 100


class HousekeepingCases(Cases):
    """The periodic jobs."""

    __slots__ = ()

    def run_housekeeping(
        self, event_retention: object, batch_size: object
    ) -> Plan[HousekeepingReport]:
        retention = check_duration("event_retention", event_retention, maximum=MAX_IDEMPOTENCY_TTL)
        size = check_batch("batch_size", batch_size)
        began = self._now()
        holds, steps = yield from self._expire_lapsed_holds(began, size)
        keys_before, events_before = began - self._idempotency_ttl, began - retention
        keys, key_steps = yield from _in_batches(
            lambda uow, _, skip: (uow.idempotency_keys.purge_batch(keys_before, size, skip), 0),
            size,
        )
        events, event_steps = yield from _in_batches(
            lambda uow, after, skip: uow.events.purge_acknowledged(
                events_before, size, after, skip
            ),
            size,
        )
        return HousekeepingReport(
            holds_expired=holds,
            idempotency_keys_purged=keys,
            events_purged=events,
            transactions=steps + key_steps + event_steps,
        )

    def _expire_lapsed_holds(self, began: datetime, size: int) -> Plan[tuple[int, int]]:
        """Rounds until no hold lapsed at ``began`` is left: (holds expired, transactions)."""
        expired = steps = 0
        while True:
            lapsed: list[str] = yield Step(
                lambda uow: uow.reservations.schedules_with_expired_holds(began, size)
            )
            steps += 1
            if not lapsed:
                return expired, steps
            # Processes running at once start on different schedules, rather than queue
            # on one schedule's row lock to find its holds already expired.
            random.shuffle(lapsed)
            for schedule_id in lapsed:

                def sweep(uow: AbstractUnitOfWork, schedule_id: str = schedule_id) -> int:
                    count = expire_holds(uow, schedule_id, self._now(), size)
                    uow.commit()
                    return count

                swept: int = yield Step(sweep)
                expired, steps = expired + swept, steps + 1


def _in_batches(
    batch: Callable[[AbstractUnitOfWork, int, bool], tuple[int, int]], size: int
) -> Plan[tuple[int, int]]:
    """``batch``, each committed, until one deletes fewer than ``size``: (deleted, steps).

    A batch gets the position the previous one ended at (0 first) and whether to skip
    rows other transactions hold, and returns how many it deleted and where it ended.
    Batches skip locked rows, so that processes purge different rows at once, until one
    comes short; then batches from the start wait for locked rows instead, until one
    comes short again: a row another process had locked without deleting it (MariaDB
    locks the rows its scan reads) is not left behind.
    """
    deleted = steps = position = 0
    skip = True
    while True:

        def committed(
            uow: AbstractUnitOfWork, after: int = position, skip_locked: bool = skip
        ) -> tuple[int, int]:
            done = batch(uow, after, skip_locked)
            uow.commit()
            return done

        count, position = yield Step(committed)
        deleted, steps = deleted + count, steps + 1
        if count < size:
            if not skip:
                return deleted, steps
            skip, position = False, 0
