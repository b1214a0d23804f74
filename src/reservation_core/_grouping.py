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
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from reservation_core._admission import ThreadTurn
from reservation_core.domain import Reservation
from reservation_core.errors import BusinessException


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
        self._turn: ThreadTurn | None = None  # made when it queues: a leader never waits

    def queue(self) -> None:
        """Get ready to wait: from now on :meth:`wake` may come before :meth:`wait`."""
        self._turn = ThreadTurn()

    def wake(self) -> None:
        assert self._turn is not None  # noqa: S101 - only a queued member is woken
        self._turn.grant()

    def wait(self) -> None:
        assert self._turn is not None  # noqa: S101 - only a queued member waits
        self._turn.wait()


class GroupCommit:
    """One queue of waiting bookings, served a group at a time."""

    def __init__(self, max_group: int = 100, max_rounds: int = 8) -> None:
        self._max_group = max_group
        self._max_rounds = max_rounds
        self._lock = threading.Lock()
        self._queue: deque[Member] = deque()
        self._leading = False

    def queued(self) -> int:
        """How many bookings wait for a group (for tests)."""
        return len(self._queue)

    def book(
        self,
        member: Member,
        alone: Callable[[], Reservation],
        together: Callable[[list[Member]], list[Reservation | None]],
    ) -> Reservation | None:
        """``member``'s reservation, or ``None``: the caller books it ``alone`` then.

        ``alone()`` books one member the plain way; ``together(group)`` books a group in
        one transaction, ``None`` for each member it did not book.
        """
        with self._lock:
            if not self._leading:  # nobody leads: lead
                self._leading = member.lead = True
            else:
                member.queue()
                self._queue.append(member)
        if not member.lead:
            member.wait()
        if member.lead:
            self._lead(member, alone, together)
        if member.error is not None:
            raise member.error
        return member.result

    def _lead(
        self,
        leader: Member,
        alone: Callable[[], Reservation],
        together: Callable[[list[Member]], list[Reservation | None]],
    ) -> None:
        """Serve the leader's group, then the next ones while two or more wait, then hand off.

        Serving a few groups in a row spares the hand-off to another thread (a wake-up that
        waits for the GIL) between groups; after ``max_rounds`` the lead passes on anyway,
        so that the leader's own caller gets its answer.
        """
        queue = self._queue
        with self._lock:
            group = [leader, *self._take(queue, self._max_group - 1)]
        rounds = 1
        while True:
            try:
                self._serve(group, alone if group[0] is leader else None, together)
            finally:
                with self._lock:
                    more = len(queue) >= 2 and rounds < self._max_rounds
                    if more:
                        following = self._take(queue, self._max_group)
                        successor = None
                    elif queue:
                        successor = queue.popleft()
                    else:
                        successor = None
                        self._leading = False
                for member in group:
                    if member is not leader:
                        member.wake()
                if successor is not None:
                    successor.lead = True
                    successor.wake()
            if not more:
                return
            group, rounds = following, rounds + 1

    @staticmethod
    def _take(queue: deque[Member], count: int) -> list[Member]:
        return [queue.popleft() for _ in range(min(len(queue), count))]

    @staticmethod
    def _serve(
        group: list[Member],
        alone: Callable[[], Reservation] | None,
        together: Callable[[list[Member]], list[Reservation | None]],
    ) -> None:
        """Set each member's result (``None``: it books alone) or error; never raises."""
        if len(group) == 1 and alone is not None:
            try:
                group[0].result = alone()
            except BaseException as error:  # noqa: BLE001 - the leader's own answer
                group[0].error = error
            return
        try:
            results = together(group)
        except BusinessException as error:
            if error.details.get("outcome") == "unknown":  # it may have committed
                for member in group:
                    member.error = _copy(error)
            # Otherwise nothing was committed: each member books alone.
            return
        except Exception:  # noqa: BLE001 - nothing committed, as far as anyone knows
            return  # each member books alone, and meets the trouble itself
        for member, result in zip(group, results, strict=True):
            member.result = result


def _copy(error: BusinessException) -> BusinessException:
    """The same error for another caller (an exception instance is raised once)."""
    return BusinessException(error.code, error.message, details=dict(error.details))
