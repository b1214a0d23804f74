"""The use cases of schedules: create, read, list, change the capacity (private)."""

from __future__ import annotations

from reservation_core._use_cases._plan import Cases, Plan, Step
from reservation_core._use_cases._rules import existing_schedule
from reservation_core._use_cases.paging import (
    MAX_PAGE_SIZE,
    decode_schedule_cursor,
    encode_schedule_cursor,
)
from reservation_core.domain import Schedule, SchedulePage
from reservation_core.domain._validation import check_count, check_id
from reservation_core.errors import BusinessException, ErrorCode
from reservation_core.ports import AbstractUnitOfWork


class ScheduleCases(Cases):
    """The use cases of schedules."""

    __slots__ = ()

    def create_schedule(self, schedule_id: object, capacity: object) -> Plan[Schedule]:
        schedule = Schedule(
            id=check_id("schedule_id", schedule_id),
            capacity=check_count("capacity", capacity, minimum=0),
            reserved=0,
        )

        def use_case(uow: AbstractUnitOfWork) -> Schedule:
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
            changed = uow.schedules.set_capacity(sid, seats)
            schedule = existing_schedule(uow, sid)
            if not changed:
                raise BusinessException(
                    ErrorCode.CAPACITY_BELOW_RESERVED,
                    details={"capacity": seats, "reserved": schedule.reserved},
                )
            uow.commit()
            return schedule

        result: Schedule = yield Step(use_case)
        return result
