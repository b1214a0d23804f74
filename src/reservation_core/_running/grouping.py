"""Group commit: one transaction books the plain bookings waiting in a process.

Flat combining (private). Each plain booking (no idempotency key, not a hold) joins one
queue, whatever its schedule. The first to arrive leads: it takes the queue as it is
(itself first, the others in arrival order, up to ``max_group``), passes the lead to the
oldest booking still waiting, if any, books its group in one transaction, under one lock
of each schedule's row (taken in the order of the schedules' ids, as every group takes
them, so groups never deadlock one another), and hands each member its result. Bookings
arriving while a group is booked wait for the next group instead of for a row lock or a
connection, so one durable commit books a whole group: a crowd on one hot schedule, or
bookings spread over many.

Two groups may be in flight (``max_flights``): a leader books at once if no group is
under way; if one is, it waits until as many bookings wait with it as that group holds,
or until a group lands. So two groups of about equal size take turns, one written by the
database while the other is prepared, read and woken in Python. Where the store takes one
writer at a time (``one_at_a_time``), one group is booked at a time.

A leader alone books the plain way (on PostgreSQL a single statement). A member the group
could not book (too few seats, or its user already active there) is booked alone by its
own thread, the plain way: refused or booked exactly as if it had come by itself. If the
group's transaction fails before committing, every member is booked alone; if its outcome
is unknown (the connection was lost during ``COMMIT``), every member gets that error.

The bookkeeping is shared; only the wait differs, as for admission (``admission.py``):
a thread blocks on a lock (:meth:`GroupCommit.book`), a task awaits a future
(:meth:`GroupCommit.book_async`). A task cancelled while it waits in the queue leaves it
unbooked; one cancelled once its group is under way may still be booked (as a booking
cancelled during its ``COMMIT``); a cancelled task holding the lead passes it on; a leader
cancelled while its group is booked waits for the group (its members' answers depend on
it) before raising.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from reservation_core._running.admission import TaskTurn, ThreadTurn
from reservation_core.domain import Reservation
from reservation_core.errors import BusinessException, ErrorCode

Results = list[Reservation | None]
T = TypeVar("T", ThreadTurn, TaskTurn)


class Member:
    """A booking in a group: what it asks for, and what the group made of it."""

    __slots__ = ("_turn", "error", "lead", "quantity", "result", "schedule_id", "user_id")

    def __init__(self, schedule_id: str, user_id: str, quantity: int) -> None:
        self.schedule_id = schedule_id
        self.user_id = user_id
        self.quantity = quantity
        self.result: Reservation | None = None  # None when done: book it alone
        self.error: BaseException | None = None
        self.lead = False
        self._turn: ThreadTurn | TaskTurn | None = None  # made when it queues

    def wake(self) -> None:
        assert self._turn is not None  # noqa: S101 - only a waiting member is woken
        self._turn.grant()


class GroupCommit:
    """One queue of waiting bookings, taken a group at a time; two groups may be in flight."""

    def __init__(self, max_group: int = 100, max_flights: int = 2) -> None:
        self._max_group = max_group
        self._max_flights = max_flights
        self._lock = threading.Lock()
        self._queue: deque[Member] = deque()
        self._leading = False
        self._flights = 0  # groups being booked
        self._flying = 0  # their members
        self._gated: Member | None = None  # the leader, waiting for its turn to book

    def one_at_a_time(self) -> None:
        """Book one group at a time: the database takes one writer at a time anyway."""
        self._max_flights = 1

    def queued(self) -> int:
        """How many bookings wait for a group, its leader included (for tests)."""
        with self._lock:
            return len(self._queue) + (self._gated is not None)

    def book(
        self,
        member: Member,
        alone: Callable[[], Reservation],
        together: Callable[[list[Member]], Results],
    ) -> Reservation | None:
        """``member``'s reservation, or ``None``: the caller books it alone then.

        ``alone()`` books one member the plain way; ``together(group)`` books a group in
        one transaction, ``None`` for each member it did not book.
        """
        if not self._join(member, ThreadTurn):
            _turn(member, ThreadTurn).wait()
        if not member.lead:
            return _answer(member)
        while (group := self._take_off(member, ThreadTurn)) is None:
            _turn(member, ThreadTurn).wait()
        try:
            self._serve(group, alone, together)
        finally:
            self._land(group)
        return _answer(member)

    async def book_async(
        self,
        member: Member,
        alone: Callable[[], Awaitable[Reservation]],
        together: Callable[[list[Member]], Awaitable[Results]],
    ) -> Reservation | None:
        """:meth:`book` for a task: the same queue and groups, awaited.

        A leader alone books as any lone booking does, cancellable. A group under way is
        not cancelled with its leader's task: the leader waits for it (its members' answers
        depend on it), then raises ``CancelledError``.
        """
        if not self._join(member, TaskTurn):
            await self._wait(member)
        if not member.lead:
            return _answer(member)
        while (group := self._take_off(member, TaskTurn)) is None:
            await self._wait(member)
        cancelled = False
        try:
            if len(group) == 1:
                await _settled(group, alone())
            else:
                booking = asyncio.ensure_future(_settled(group, together(group), grouped=True))
                cancelled = await _unless_cancelled(booking)
        finally:
            self._land(group)
        if cancelled:
            raise asyncio.CancelledError
        return _answer(member)

    # -- the bookkeeping, shared -----------------------------------------------------------

    def _join(self, member: Member, turn: type[ThreadTurn | TaskTurn]) -> bool:
        """Lead (``True``) if nobody does, else queue with a turn to wait on."""
        with self._lock:
            if not self._leading:
                self._leading = member.lead = True
                return True
            member._turn = turn()
            self._queue.append(member)
            gated = self._ungate()
        if gated is not None:
            gated.wake()
        return False

    async def _wait(self, member: Member) -> None:
        """A task's wait for its turn; cancelled, it leaves the queue or passes the lead on."""
        try:
            await _turn(member, TaskTurn).wait()
        except asyncio.CancelledError:
            self._leave(member)
            raise

    def _leave(self, member: Member) -> None:
        """A waiting task was cancelled: out of the queue, or the lead it holds passed on.

        Taken into a group already, it stays there: the group may book it.
        """
        with self._lock:
            if member.lead:
                member.lead = False
                if self._gated is member:
                    self._gated = None
                successor = self._pass_lead()
            else:
                if member in self._queue:
                    self._queue.remove(member)
                successor = None
        if successor is not None:
            successor.wake()

    def _pass_lead(self) -> Member | None:
        """The oldest waiter leads next (woken by the caller), or nobody: under the lock."""
        if self._queue:
            successor = self._queue.popleft()
            successor.lead = True
            return successor
        self._leading = False
        return None

    def _clear(self) -> bool:
        """Whether the leader may book its group now: under the lock.

        With no group in flight, at once; with one, once as many wait as that group holds
        (so that two groups of about equal size take turns: one is booked while the other
        gathers); with ``max_flights``, once one lands.
        """
        if self._flights == 0:
            return True
        if self._flights >= self._max_flights:
            return False
        return len(self._queue) + 1 >= min(self._flying, self._max_group)

    def _ungate(self) -> Member | None:
        """The waiting leader, if it may book now (woken by the caller): under the lock."""
        gated = self._gated
        if gated is None or not self._clear():
            return None
        self._gated = None
        return gated

    def _take_off(self, leader: Member, turn: type[ThreadTurn | TaskTurn]) -> list[Member] | None:
        """The leader's group, the lead passed on; or ``None``: wait for the turn, ask again."""
        with self._lock:
            if not self._clear():
                leader._turn = turn()
                self._gated = leader
                return None
            group = [leader, *self._take(self._max_group - 1)]
            self._flights += 1
            self._flying += len(group)
            leader.lead = False
            successor = self._pass_lead()
        if successor is not None:
            successor.wake()
        return group

    def _land(self, group: list[Member]) -> None:
        """The group is booked: wake its members, and the leader waiting for the turn.

        With two groups in flight the waiting leader is woken first: its group goes at
        once, and the members coming back gather the next one meanwhile. With one, the
        members are woken first: nothing overlaps, so the leader's group may as well
        take those that are back by then.
        """
        with self._lock:
            self._flights -= 1
            self._flying -= len(group)
            gated = self._ungate()
        woken = group[1:]
        if gated is not None:
            woken = [gated, *woken] if self._max_flights > 1 else [*woken, gated]
        for member in woken:
            member.wake()

    def _take(self, count: int) -> list[Member]:
        queue = self._queue
        return [queue.popleft() for _ in range(min(len(queue), count))]

    def _serve(
        self,
        group: list[Member],
        alone: Callable[[], Reservation],
        together: Callable[[list[Member]], Results],
    ) -> None:
        """Set each member's result (``None``: it books alone) or error.

        Raises only what is not an ``Exception`` (``KeyboardInterrupt``), in the leader's
        thread, once every member has its answer.
        """
        try:
            if len(group) == 1:
                group[0].result = alone()
            else:
                _done(group, together(group))
        except BaseException as error:
            _failed(group, error, grouped=len(group) > 1)
            if not isinstance(error, Exception) and len(group) > 1:
                raise


def _turn(member: Member, kind: type[T]) -> T:
    turn = member._turn
    assert isinstance(turn, kind)  # noqa: S101 - made with that kind
    return turn


async def _unless_cancelled(booking: asyncio.Future[None]) -> bool:
    """Await ``booking`` to its end, even if this task is cancelled: whether it was."""
    cancelled = False
    while not booking.done():
        try:
            await asyncio.shield(booking)
        except asyncio.CancelledError:
            cancelled = True
    return cancelled


async def _settled(
    group: list[Member], outcome: Awaitable[Reservation | Results], *, grouped: bool = False
) -> None:
    """:meth:`GroupCommit._serve` awaited: each member's result or error; never raises."""
    try:
        answer = await outcome
    except BaseException as error:  # noqa: BLE001 - each member gets its answer
        _failed(group, error, grouped=grouped)
        return
    if grouped:
        assert isinstance(answer, list)  # noqa: S101 - together() answers a list
        _done(group, answer)
    else:
        assert not isinstance(answer, list)  # noqa: S101 - alone() answers a reservation
        group[0].result = answer


def _done(group: list[Member], results: Results) -> None:
    for member, result in zip(group, results, strict=True):
        member.result = result


def _failed(group: list[Member], error: BaseException, *, grouped: bool) -> None:
    """A lone booking's error is its own; a group's decides who books alone."""
    if not grouped:
        group[0].error = error
    elif isinstance(error, BusinessException):
        if error.details.get("outcome") == "unknown":  # it may have committed
            for member in group:
                member.error = _copy(error)
        # Otherwise nothing was committed: each member books alone.
    elif not isinstance(error, Exception):  # cancelled, interrupted: it may have committed
        for member in group:
            member.error = _copy(_unknown(error))
    # Any other error: nothing committed, as far as anyone knows; each member books alone
    # and meets the trouble itself.


def _answer(member: Member) -> Reservation | None:
    if member.error is not None:
        raise member.error
    return member.result


def _unknown(error: BaseException) -> BusinessException:
    return BusinessException(
        ErrorCode.STORAGE_UNAVAILABLE,
        "The group's booking was interrupted; its outcome is unknown.",
        details={"outcome": "unknown", "reason": type(error).__name__},
    )


def _copy(error: BusinessException) -> BusinessException:
    """The same error for another caller (an exception instance is raised once)."""
    return BusinessException(error.code, error.message, details=dict(error.details))
