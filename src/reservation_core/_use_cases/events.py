"""The use cases of the event outbox: claim, acknowledge, purge (private)."""

from __future__ import annotations

from collections.abc import Iterable

from reservation_core._use_cases._plan import Cases, Plan, Step
from reservation_core.domain import ReservationEvent
from reservation_core.domain._validation import (
    MAX_IDEMPOTENCY_TTL,
    check_batch,
    check_duration,
    check_event_ids,
    check_id,
)
from reservation_core.ports import AbstractUnitOfWork


class EventCases(Cases):
    """The use cases of the event outbox."""

    __slots__ = ()

    def claim_events(
        self, consumer: object, limit: object, lease: object
    ) -> Plan[list[ReservationEvent]]:
        name = check_id("consumer", consumer)
        size = check_batch("limit", limit)
        duration = check_duration("lease", lease, maximum=MAX_IDEMPOTENCY_TTL)

        def use_case(uow: AbstractUnitOfWork) -> list[ReservationEvent]:
            now = self._now()
            claimed = uow.events.claim(name, size, now, now - duration)
            uow.commit()
            return claimed

        result: list[ReservationEvent] = yield Step(use_case)
        return result

    def ack_events(self, consumer: object, event_ids: Iterable[int]) -> Plan[int]:
        name = check_id("consumer", consumer)
        ids = check_event_ids("event_ids", event_ids)

        def use_case(uow: AbstractUnitOfWork) -> int:
            count = uow.events.ack(name, ids, self._now())
            uow.commit()
            return count

        result: int = yield Step(use_case)
        return result

    def purge_events(self, older_than: object) -> Plan[int]:
        duration = check_duration("older_than", older_than, maximum=MAX_IDEMPOTENCY_TTL)

        def use_case(uow: AbstractUnitOfWork) -> int:
            count = uow.events.purge(self._now() - duration)
            uow.commit()
            return count

        result: int = yield Step(use_case)
        return result
