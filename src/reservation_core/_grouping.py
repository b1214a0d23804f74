"""Group commit: one transaction books the plain bookings waiting in a process.

Flat combining (private). Each plain booking (no idempotency key, not a hold) joins one
queue, whatever its schedule. The first to arrive leads: it takes the queue as it is
(itself first, the others in arrival order, up to ``max_group``), books them in one
transaction, under one lock of each schedule's row (taken in the order of the schedules'
ids, as every group takes them, so groups never deadlock one another), hands each member
its result, then passes the lead to the oldest booking that arrived meanwhile, which does
the same with its own group. Bookings arriving while a group commits wait for the next
group instead of for a row lock or a connection, so one durable commit books a whole group:
a crowd on one hot schedule, or bookings spread over many.

A leader alone books the plain way (on PostgreSQL a single statement), still leading, so
that the bookings arriving meanwhile form the next group. A member the group could not
book (too few seats, or its user already active there) is booked alone by its own thread,
the plain way: refused or booked exactly as if it had come by itself. If the group's
transaction fails before committing, every member is booked alone; if its outcome is
unknown (the connection was lost during ``COMMIT``), every member gets that error.

The bookkeeping is shared; only the wait differs, as for admission (``_admission.py``):
a thread blocks on a lock (:meth:`GroupCommit.book`), a task awaits a future
(:meth:`GroupCommit.book_async`). A task cancelled while it waits in the queue leaves it
unbooked; one cancelled once its group is under way may still be booked (as a booking
cancelled during its ``COMMIT``); a cancelled task handed the lead passes it on; a leader
cancelled while its group is booked waits for the group (its members' answers depend on
it), then passes the lead on.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable

from reservation_core._admission import ThreadTurn, _TaskTurn
from reservation_core.domain import Reservation
from reservation_core.errors import BusinessException, ErrorCode

Results = list[Reservation | None]


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
        self._turn: ThreadTurn | _TaskTurn | None = None  # made when it queues

    def wake(self) -> None:
        assert self._turn is not None  # noqa: S101 - only a queued member is woken
        self._turn.grant()


class GroupCommit:
    """One queue of waiting bookings, served a group at a time."""

    def __init__(self, max_group: int = 100, max_rounds: int = 8) -> None:
        self._max_group = max_group
        self._max_rounds = max_rounds
        self._lock = threading.Lock()
        self._queue: deque[Member] = deque()
        self._leading = False
        self._rounds = 0  # the groups the current leader has served in a row

    def queued(self) -> int:
        """How many bookings wait for a group (for tests)."""
        return len(self._queue)

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
            turn = member._turn
            assert isinstance(turn, ThreadTurn)  # noqa: S101 - made by _join
            turn.wait()
        if member.lead:
            group: list[Member] | None = self._first_group(member)
            while group is not None:
                try:
                    self._serve(group, alone if group[0] is member else None, together)
                finally:
                    group = self._after_round(group, member)
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
        depend on it), passes the lead on, then raises ``CancelledError``.
        """
        if not self._join(member, _TaskTurn):
            turn = member._turn
            assert isinstance(turn, _TaskTurn)  # noqa: S101 - made by _join
            try:
                await turn.wait()
            except asyncio.CancelledError:
                self._leave(member)
                raise
        if member.lead:
            cancelled = False
            group: list[Member] | None = self._first_group(member)
            while group is not None:
                try:
                    if len(group) == 1 and group[0] is member:
                        await _settled(group, alone())
                    else:
                        booking = asyncio.ensure_future(
                            _settled(group, together(group), grouped=True)
                        )
                        cancelled = await _unless_cancelled(booking) or cancelled
                finally:
                    group = self._after_round(group, member, stop=cancelled)
            if cancelled:
                raise asyncio.CancelledError
        return _answer(member)

    # -- the bookkeeping, shared -----------------------------------------------------------

    def _join(self, member: Member, turn: type[ThreadTurn | _TaskTurn]) -> bool:
        """Lead (``True``) if nobody does, else queue with a turn to wait on."""
        with self._lock:
            if not self._leading:
                self._leading = member.lead = True
                return True
            member._turn = turn()
            self._queue.append(member)
            return False

    def _leave(self, member: Member) -> None:
        """A queued task was cancelled: out of the queue, or the lead it was handed passed on.

        Taken into a group already, it stays there: the group may book it.
        """
        with self._lock:
            if member.lead:
                member.lead = False
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

    def _first_group(self, leader: Member) -> list[Member]:
        with self._lock:
            return [leader, *self._take(self._max_group - 1)]

    def _after_round(
        self, group: list[Member], leader: Member, *, stop: bool = False
    ) -> list[Member] | None:
        """Wake the group's members; the next group while two or more wait, else hand off.

        ``stop``: hand off now (the leader's task was cancelled).

        Serving a few groups in a row spares the hand-off to another thread (a wake-up that
        waits for the GIL) between groups; after ``max_rounds`` the lead passes on anyway,
        so that the leader's own caller gets its answer.
        """
        with self._lock:
            self._rounds = 1 if group[0] is leader else self._rounds + 1
            following = None
            successor = None
            if not stop and len(self._queue) >= 2 and self._rounds < self._max_rounds:
                following = self._take(self._max_group)
            else:
                successor = self._pass_lead()
        for member in group:
            if member is not leader:
                member.wake()
        if successor is not None:
            successor.wake()
        return following

    def _take(self, count: int) -> list[Member]:
        queue = self._queue
        return [queue.popleft() for _ in range(min(len(queue), count))]

    def _serve(
        self,
        group: list[Member],
        alone: Callable[[], Reservation] | None,
        together: Callable[[list[Member]], Results],
    ) -> None:
        """Set each member's result (``None``: it books alone) or error.

        Raises only what is not an ``Exception`` (``KeyboardInterrupt``), in the leader's
        thread, once every member has its answer.
        """
        try:
            if len(group) == 1 and alone is not None:
                group[0].result = alone()
            else:
                _done(group, together(group))
        except BaseException as error:
            _failed(group, error, grouped=alone is None or len(group) > 1)
            if not isinstance(error, Exception) and (alone is None or len(group) > 1):
                raise


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
