"""The use cases of schedules: create, read, list, change the capacity (private)."""

from __future__ import annotations

from reservation_core._use_cases._offers import offer_seats
from reservation_core._use_cases._plan import Cases, Plan, Step
from reservation_core._use_cases._rules import existing_schedule
from reservation_core._use_cases.paging import (
    MAX_PAGE_SIZE,
    decode_schedule_cursor,
    encode_schedule_cursor,
)
from reservation_core.domain import Schedule, SchedulePage
from reservation_core.domain._validation import check_count, check_id, check_pools, invalid
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import AbstractUnitOfWork


class ScheduleCases(Cases):
    """The use cases of schedules."""

    __slots__ = ()

    def create_schedule(
        self, schedule_id: object, capacity: object, pools: object = ()
    ) -> Plan[Schedule]:
        sid = check_id("schedule_id", schedule_id)
        schedule = Schedule(
            id=sid,
            capacity=check_count("capacity", capacity, minimum=0),
            reserved=0,
            pools=check_pools(sid, pools),
        )

        def use_case(uow: AbstractUnitOfWork) -> Schedule:
            # Pools are one level deep, and fixed at creation: a pool read now stays so.
            found = {pool_id: uow.schedules.get(pool_id) for pool_id in schedule.pools}
            for pool_id, pool in found.items():
                if pool is not None and pool.pools:
                    raise invalid("pools", "a schedule with pools cannot be a pool", pool_id)
            for pool_id, pool in found.items():
                if pool is None:
                    existing_schedule(uow, pool_id)  # raises SCHEDULE_NOT_FOUND for the pool
            if not uow.schedules.add(schedule):
                raise BusinessException(
                    ErrorCode.SCHEDULE_ALREADY_EXISTS, details={"schedule_id": schedule.id}
                )
            uow.commit()
            return schedule

        result: Schedule = yield Step(use_case)
        return result

    def get_schedule(self, schedule_id: object) -> Plan[Schedule]:
        sid = check_id("schedule_id", schedule_id)
        result: Schedule = yield Step(lambda uow: existing_schedule(uow, sid))
        return result

    def list_schedules(self, limit: object, after: object) -> Plan[SchedulePage]:
        size = check_count("limit", limit, minimum=1, maximum=MAX_PAGE_SIZE)
        position = decode_schedule_cursor(after)

        def use_case(uow: AbstractUnitOfWork) -> SchedulePage:
            found = uow.schedules.page(position, size + 1)
            items = tuple(found[:size])
            more = len(found) > size
            return SchedulePage(items, encode_schedule_cursor(items[-1]) if more else None)

        result: SchedulePage = yield Step(use_case)
        return result

    def change_capacity(self, schedule_id: object, capacity: object) -> Plan[Schedule]:
        sid = check_id("schedule_id", schedule_id)
        seats = check_count("capacity", capacity, minimum=0)

        def use_case(uow: AbstractUnitOfWork) -> Schedule:
            # The schedule and its pools locked first (in id order): more seats go to the
            # waiting list in this transaction, which takes seats on the pools too.
            before = uow.schedules.lock([sid]).get(sid)
            changed = uow.schedules.set_capacity(sid, seats)
            schedule = existing_schedule(uow, sid)
            if not changed:
                raise BusinessException(
                    ErrorCode.CAPACITY_BELOW_RESERVED,
                    details={"capacity": seats, "reserved": schedule.reserved},
                )
            if before is not None and seats > before.capacity and schedule.waitlisted:
                offer_seats(uow, sid, self._now())
                schedule = existing_schedule(uow, sid)
            uow.commit()
            return schedule

        result: Schedule = yield Step(use_case)
        return result
