"""AsyncReservationService: the same use cases as ReservationService, for asyncio."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from reservation_core._running.async_retry import AsyncUnitOfWorkFactory, run_in_async_unit_of_work
from reservation_core._running.grouping import Member
from reservation_core._running.observing import observed_async
from reservation_core._running.service_base import ServiceBase
from reservation_core._use_cases import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EVENT_RETENTION,
    DEFAULT_HOLD,
    DEFAULT_OFFER,
    Plan,
    Step,
    utc_now,
)
from reservation_core.domain import (
    Action,
    HousekeepingReport,
    OrderLine,
    Reservation,
    ReservationEvent,
    ReservationPage,
    ReservationStatus,
    Schedule,
    SchedulePage,
    WaitlistEntry,
)
from reservation_core.instrumentation import Hooks
from reservation_core.ports import AbstractAsyncUnitOfWork, AbstractUnitOfWork

__all__ = ["AsyncReservationService"]

T = TypeVar("T")


class AsyncReservationService(ServiceBase):
    """:class:`~reservation_core.ReservationService` for asyncio: every method awaited.

    The same methods, arguments, results, errors, guarantees and options; the use cases
    are the very same code (docs/architecture.md). Waiting never blocks the
    event loop: retry backoff is ``asyncio.sleep``, a booking queued by admission control
    awaits its turn, and the database is awaited through the unit of work. A task
    cancelled mid-call (a client that disconnects) leaves no partial write: what was not
    committed is rolled back and the connection returned, and the call raises
    ``asyncio.CancelledError`` as asyncio expects. One instance serves every task of a
    process (and may be shared with threads).

    Args:
        uow_factory: a zero-argument callable returning a fresh asynchronous unit of
            work, for example ``lambda: AsyncSqlAlchemyUnitOfWork(async_engine)`` or, in
            tests, ``lambda: AsyncInMemoryUnitOfWork(store)``. A sync unit of work is
            accepted too and runs in a worker thread (``asyncio.to_thread``).
        clock: as for :class:`~reservation_core.ReservationService`.
        max_attempts: as for :class:`~reservation_core.ReservationService`.
        retry_backoff: as for :class:`~reservation_core.ReservationService`.
        idempotency_ttl: as for :class:`~reservation_core.ReservationService`.
        max_concurrent_per_schedule: as for :class:`~reservation_core.ReservationService`;
            a task waiting for its turn awaits it.
        hooks: as for :class:`~reservation_core.ReservationService`.
        group_commit: as for :class:`~reservation_core.ReservationService`: the bookings
            of this instance's tasks waiting at the same time are booked together, a
            group awaited by one of them. A task cancelled while it waits for its group
            is not booked; one cancelled once its group is under way may be, as a booking
            cancelled during its commit may be.

    Raises:
        TypeError, ValueError: at construction, for an argument of the wrong type or out of
            range.

    Every method raises :class:`~reservation_core.BusinessException` and nothing else
    (but ``asyncio.CancelledError`` when its task is cancelled).

    Examples:
        >>> import asyncio
        >>> from reservation_core.adapters.memory import AsyncInMemoryUnitOfWork, InMemoryStore
        >>> store = InMemoryStore()
        >>> service = AsyncReservationService(lambda: AsyncInMemoryUnitOfWork(store))
        >>> async def book() -> str:
        ...     await service.create_schedule("yoga-monday", capacity=10)
        ...     booking = await service.create_reservation("yoga-monday", "alice")
        ...     return booking.status
        >>> asyncio.run(book())
        <ReservationStatus.CONFIRMED: 'CONFIRMED'>
    """

    def __init__(
        self,
        uow_factory: AsyncUnitOfWorkFactory,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = 10,
        retry_backoff: float = 0.002,
        idempotency_ttl: timedelta = timedelta(hours=24),
        max_concurrent_per_schedule: int | None = 2,
        hooks: Hooks | Sequence[Hooks] | None = None,
        group_commit: bool = True,
    ) -> None:
        super().__init__(
            uow_factory,
            clock=clock,
            max_attempts=max_attempts,
            retry_backoff=retry_backoff,
            idempotency_ttl=idempotency_ttl,
            max_concurrent_per_schedule=max_concurrent_per_schedule,
            hooks=hooks,
            group_commit=group_commit,
        )
        self._uow_factory = uow_factory

    # -- schedules -------------------------------------------------------------------------

    @observed_async
    async def create_schedule(
        self, schedule_id: str, capacity: int, *, pools: Sequence[str] = ()
    ) -> Schedule:
        """:meth:`ReservationService.create_schedule <reservation_core.ReservationService.create_schedule>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.create_schedule(schedule_id, capacity, pools))

    @observed_async
    async def get_schedule(self, schedule_id: str) -> Schedule:
        """:meth:`ReservationService.get_schedule <reservation_core.ReservationService.get_schedule>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.get_schedule(schedule_id))

    @observed_async
    async def change_capacity(self, schedule_id: str, capacity: int) -> Schedule:
        """:meth:`ReservationService.change_capacity <reservation_core.ReservationService.change_capacity>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.change_capacity(schedule_id, capacity))

    # -- reservations ----------------------------------------------------------------------

    @observed_async
    async def create_reservation(
        self,
        schedule_id: str,
        user_id: str,
        *,
        quantity: int = 1,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """:meth:`ReservationService.create_reservation <reservation_core.ReservationService.create_reservation>`, awaited."""  # noqa: E501
        return await self._drive(
            self._cases.create_reservation(schedule_id, user_id, quantity, idempotency_key)
        )

    @observed_async
    async def hold_reservation(
        self,
        schedule_id: str,
        user_id: str,
        *,
        quantity: int = 1,
        hold_for: timedelta = DEFAULT_HOLD,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """:meth:`ReservationService.hold_reservation <reservation_core.ReservationService.hold_reservation>`, awaited."""  # noqa: E501
        return await self._drive(
            self._cases.hold_reservation(schedule_id, user_id, quantity, hold_for, idempotency_key)
        )

    @observed_async
    async def confirm_reservation(
        self, reservation_id: str, *, user_id: str | None = None
    ) -> Reservation:
        """:meth:`ReservationService.confirm_reservation <reservation_core.ReservationService.confirm_reservation>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.confirm_reservation(reservation_id, user_id))

    @observed_async
    async def cancel_reservation(
        self, reservation_id: str, *, user_id: str | None = None
    ) -> Reservation:
        """:meth:`ReservationService.cancel_reservation <reservation_core.ReservationService.cancel_reservation>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.move(Action.CANCEL, reservation_id, user_id))

    @observed_async
    async def refund_reservation(
        self, reservation_id: str, *, user_id: str | None = None
    ) -> Reservation:
        """:meth:`ReservationService.refund_reservation <reservation_core.ReservationService.refund_reservation>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.move(Action.REFUND, reservation_id, user_id))

    @observed_async
    async def change_quantity(
        self, reservation_id: str, quantity: int, *, user_id: str | None = None
    ) -> Reservation:
        """:meth:`ReservationService.change_quantity <reservation_core.ReservationService.change_quantity>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.change_quantity(reservation_id, quantity, user_id))

    # -- orders ----------------------------------------------------------------------------

    @observed_async
    async def create_order(
        self,
        user_id: str,
        lines: Sequence[OrderLine],
        *,
        idempotency_key: str | None = None,
        hold_for: timedelta | None = None,
    ) -> tuple[Reservation, ...]:
        """:meth:`ReservationService.create_order <reservation_core.ReservationService.create_order>`, awaited."""  # noqa: E501
        return await self._drive(
            self._cases.create_order(user_id, lines, idempotency_key, hold_for)
        )

    @observed_async
    async def get_order(
        self, order_id: str, *, user_id: str | None = None
    ) -> tuple[Reservation, ...]:
        """:meth:`ReservationService.get_order <reservation_core.ReservationService.get_order>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.get_order(order_id, user_id))

    @observed_async
    async def confirm_order(
        self, order_id: str, *, user_id: str | None = None
    ) -> tuple[Reservation, ...]:
        """:meth:`ReservationService.confirm_order <reservation_core.ReservationService.confirm_order>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.confirm_order(order_id, user_id))

    @observed_async
    async def cancel_order(
        self, order_id: str, *, user_id: str | None = None
    ) -> tuple[Reservation, ...]:
        """:meth:`ReservationService.cancel_order <reservation_core.ReservationService.cancel_order>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.cancel_order(order_id, user_id))

    # -- waiting lists ---------------------------------------------------------------------

    @observed_async
    async def join_waitlist(
        self,
        schedule_id: str,
        user_id: str,
        *,
        quantity: int = 1,
        offer_for: timedelta = DEFAULT_OFFER,
    ) -> WaitlistEntry:
        """:meth:`ReservationService.join_waitlist <reservation_core.ReservationService.join_waitlist>`, awaited."""  # noqa: E501
        return await self._drive(
            self._cases.join_waitlist(schedule_id, user_id, quantity, offer_for)
        )

    @observed_async
    async def leave_waitlist(self, entry_id: str, *, user_id: str | None = None) -> WaitlistEntry:
        """:meth:`ReservationService.leave_waitlist <reservation_core.ReservationService.leave_waitlist>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.leave_waitlist(entry_id, user_id))

    @observed_async
    async def get_waitlist_entry(
        self, entry_id: str, *, user_id: str | None = None
    ) -> WaitlistEntry:
        """:meth:`ReservationService.get_waitlist_entry <reservation_core.ReservationService.get_waitlist_entry>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.get_waitlist_entry(entry_id, user_id))

    @observed_async
    async def get_reservation(
        self, reservation_id: str, *, user_id: str | None = None
    ) -> Reservation:
        """:meth:`ReservationService.get_reservation <reservation_core.ReservationService.get_reservation>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.get_reservation(reservation_id, user_id))

    @observed_async
    async def list_reservations(
        self,
        *,
        schedule_id: str | None = None,
        user_id: str | None = None,
        status: ReservationStatus | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> ReservationPage:
        """:meth:`ReservationService.list_reservations <reservation_core.ReservationService.list_reservations>`, awaited."""  # noqa: E501
        return await self._drive(
            self._cases.list_reservations(schedule_id, user_id, status, limit, after)
        )

    @observed_async
    async def release_expired_holds(self) -> int:
        """:meth:`ReservationService.release_expired_holds <reservation_core.ReservationService.release_expired_holds>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.release_expired_holds())

    @observed_async
    async def purge_expired_idempotency_keys(self) -> int:
        """:meth:`ReservationService.purge_expired_idempotency_keys <reservation_core.ReservationService.purge_expired_idempotency_keys>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.purge_expired_idempotency_keys())

    # -- events ----------------------------------------------------------------------------

    @observed_async
    async def claim_events(
        self, consumer: str, *, limit: int = 100, lease: timedelta = timedelta(seconds=30)
    ) -> list[ReservationEvent]:
        """:meth:`ReservationService.claim_events <reservation_core.ReservationService.claim_events>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.claim_events(consumer, limit, lease))

    @observed_async
    async def ack_events(self, consumer: str, event_ids: Iterable[int]) -> int:
        """:meth:`ReservationService.ack_events <reservation_core.ReservationService.ack_events>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.ack_events(consumer, event_ids))

    @observed_async
    async def purge_events(self, older_than: timedelta) -> int:
        """:meth:`ReservationService.purge_events <reservation_core.ReservationService.purge_events>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.purge_events(older_than))

    # -- holds, schedules' pages, housekeeping ---------------------------------------------

    @observed_async
    async def extend_hold(
        self, reservation_id: str, hold_for: timedelta, *, user_id: str | None = None
    ) -> Reservation:
        """:meth:`ReservationService.extend_hold <reservation_core.ReservationService.extend_hold>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.extend_hold(reservation_id, hold_for, user_id))

    @observed_async
    async def list_schedules(self, *, limit: int = 50, after: str | None = None) -> SchedulePage:
        """:meth:`ReservationService.list_schedules <reservation_core.ReservationService.list_schedules>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.list_schedules(limit, after))

    @observed_async
    async def run_housekeeping(
        self,
        *,
        event_retention: timedelta = DEFAULT_EVENT_RETENTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> HousekeepingReport:
        """:meth:`ReservationService.run_housekeeping <reservation_core.ReservationService.run_housekeeping>`, awaited."""  # noqa: E501
        return await self._drive(self._cases.run_housekeeping(event_retention, batch_size))

    # -- internals -------------------------------------------------------------------------

    async def _drive(self, plan: Plan[T]) -> T:
        """Await each step of ``plan`` in a unit of work of its own; return its answer."""
        try:
            step = next(plan)
            while True:
                step = plan.send(await self._run(step))
        except StopIteration as done:
            answer: T = done.value
            return answer

    async def _run(self, step: Step) -> Any:
        """Run ``step``: with a group of bookings where it can be, else by itself."""
        grouped = self._grouping(step.member, step.booking)
        if grouped is None:
            return await self._run_alone(step)
        groups, member = grouped
        booked = await groups.book_async(member, lambda: self._run_alone(step), self._run_group)
        return booked if booked is not None else await self._run_alone(step)

    async def _run_group(self, group: list[Member]) -> list[Reservation | None]:
        return await run_in_async_unit_of_work(
            self._new_unit, self._cases.book_group(self._members(group)), self._retry
        )

    def _new_unit(self) -> AbstractAsyncUnitOfWork | AbstractUnitOfWork:
        """A unit of work from the factory, noting whether it is one of its own."""
        return self._seen(self._uow_factory())

    async def _run_alone(self, step: Step) -> Any:
        """Run ``step`` in a fresh unit of work, again on transient failures."""
        admission, booking = self._admission, step.booking
        return await run_in_async_unit_of_work(
            self._new_unit,
            step.use_case,
            self._retry,
            admitted=(
                contextlib.nullcontext
                if admission is None or booking is None
                else functools.partial(admission.admitted_async, booking)
            ),
        )
