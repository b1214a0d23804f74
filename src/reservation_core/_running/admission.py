"""Per-schedule admission control: waiters queue in the process, not on the row lock (private).

Bookings on one schedule serialize on its row lock in the database however many arrive;
past a few concurrent ones, more only add lock waiters, which PostgreSQL wakes and
re-queues on every commit, so throughput falls as clients grow. Letting at most ``limit``
callers per schedule reach the database keeps the lock's queue short; the rest wait here,
which costs the database nothing.

Places are handed over first come, first served: a leaving holder passes its place to the
oldest waiter instead of freeing it, so a thread that books again at once (it still holds
the GIL) cannot overtake threads that were already waiting.

The bookkeeping (:class:`Admission`) is shared; only the wait differs: a thread blocks on
a lock (:meth:`Admission.admitted`), a task awaits a future
(:meth:`Admission.admitted_async`). The bookkeeping's own lock is held only for a few
dictionary operations, never while waiting, so it is safe on an event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Protocol


class _Turn(Protocol):
    """A waiter's place in the queue, handed to it by :meth:`_Turn.grant`."""

    def grant(self) -> None: ...


class ThreadTurn:
    """A thread's wait for a place: :meth:`grant` (from any thread) ends :meth:`wait`."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def grant(self) -> None:
        self._lock.release()

    def wait(self) -> None:
        self._lock.acquire()


class TaskTurn:
    """A task's wait for a place: :meth:`grant` (from any thread or loop) ends :meth:`wait`."""

    __slots__ = ("_future", "_loop")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._future: asyncio.Future[None] = self._loop.create_future()

    def grant(self) -> None:
        # Granted from whichever thread or loop the leaving holder runs on.
        self._loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        # Shielded: a cancelled waiter must still learn whether a place reached it.
        await asyncio.shield(self._future)


class _Gate:
    __slots__ = ("free", "users", "waiters")

    def __init__(self, limit: int) -> None:
        self.free = limit
        self.users = 0  # holders and waiters; the gate is dropped when none are left
        self.waiters: deque[_Turn] = deque()


class Admission:
    """At most ``limit`` concurrent holders per key, admitted in arrival order.

    Thread-safe, and usable from threads and tasks at once.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._gates: dict[str, _Gate] = {}

    @contextlib.contextmanager
    def admitted(self, key: str) -> Iterator[None]:
        """Hold one of ``key``'s places for the duration of the block, waiting for one."""
        if self._enter(key, None) is not None:  # no free place: queue
            turn = ThreadTurn()
            gate = self._enter(key, turn)
            if gate is not None:  # queued behind others
                try:
                    turn.wait()  # granted by the holder that hands us its place
                except BaseException:
                    self._abandon(key, gate, turn)
                    raise
        try:
            yield
        finally:
            self._leave(key)

    @contextlib.asynccontextmanager
    async def admitted_async(self, key: str) -> AsyncIterator[None]:
        """:meth:`admitted` for a task: waiting awaits, it never blocks the event loop."""
        if self._enter(key, None) is not None:
            turn = TaskTurn()
            gate = self._enter(key, turn)
            if gate is not None:
                try:
                    await turn.wait()
                except BaseException:  # cancelled while waiting
                    self._abandon(key, gate, turn)
                    raise
        try:
            yield
        finally:
            self._leave(key)

    def _enter(self, key: str, turn: _Turn | None) -> _Gate | None:
        """Take a free place (``None`` returned), else queue ``turn`` and return the gate.

        With ``turn`` ``None``, only a free place is taken: ``None`` if one was, else the
        caller makes its turn and calls again (no allocation on the uncontended path).
        """
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = self._gates[key] = _Gate(self._limit)
            if gate.free:
                gate.free -= 1
                gate.users += 1
                return None
            if turn is None:
                if not gate.users:
                    del self._gates[key]
                return gate
            gate.users += 1
            gate.waiters.append(turn)
            return gate

    def _leave(self, key: str) -> None:
        with self._lock:
            gate = self._gates[key]
            gate.users -= 1
            if gate.waiters:
                gate.waiters.popleft().grant()
            else:
                gate.free += 1
            if not gate.users:
                del self._gates[key]

    def _abandon(self, key: str, gate: _Gate, turn: _Turn) -> None:
        """A waiter interrupted while waiting: withdraw, or pass on a place handed to it."""
        with self._lock:
            if turn in gate.waiters:
                gate.waiters.remove(turn)
                gate.users -= 1
                if not gate.users:
                    del self._gates[key]
                return
        self._leave(key)
