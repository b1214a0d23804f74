"""Per-schedule admission control: waiters queue in the process, not on the row lock (private).

Bookings on one schedule serialize on its row lock in the database however many arrive;
past a few concurrent ones, more only add lock waiters, which PostgreSQL wakes and
re-queues on every commit, so throughput falls as clients grow. Letting at most ``limit``
threads per schedule reach the database keeps the lock's queue short; the rest wait here,
which costs the database nothing.

Places are handed over first come, first served: a leaving holder passes its place to the
oldest waiter instead of freeing it, so a thread that books again at once (it still holds
the GIL) cannot overtake threads that were already waiting.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator


class _Gate:
    __slots__ = ("free", "users", "waiters")

    def __init__(self, limit: int) -> None:
        self.free = limit
        self.users = 0  # holders and waiters; the gate is dropped when none are left
        self.waiters: deque[threading.Lock] = deque()


class Admission:
    """At most ``limit`` concurrent holders per key, admitted in arrival order; thread-safe."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._gates: dict[str, _Gate] = {}

    @contextlib.contextmanager
    def admitted(self, key: str) -> Iterator[None]:
        """Hold one of ``key``'s places for the duration of the block, waiting for one."""
        gate, turn = self._enter(key)
        if turn is not None:
            try:
                turn.acquire()  # released by the holder that hands us its place
            except BaseException:
                self._abandon(key, gate, turn)
                raise
        try:
            yield
        finally:
            self._leave(key, gate)

    def _enter(self, key: str) -> tuple[_Gate, threading.Lock | None]:
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = self._gates[key] = _Gate(self._limit)
            gate.users += 1
            if gate.free:
                gate.free -= 1
                return gate, None
            turn = threading.Lock()
            turn.acquire()
            gate.waiters.append(turn)
            return gate, turn

    def _leave(self, key: str, gate: _Gate) -> None:
        with self._lock:
            gate.users -= 1
            if gate.waiters:
                gate.waiters.popleft().release()
            else:
                gate.free += 1
            if not gate.users:
                del self._gates[key]

    def _abandon(self, key: str, gate: _Gate, turn: threading.Lock) -> None:
        """A waiter interrupted while waiting: withdraw, or pass on a place handed to it."""
        with self._lock:
            if turn in gate.waiters:
                gate.waiters.remove(turn)
                gate.users -= 1
                if not gate.users:
                    del self._gates[key]
                return
        self._leave(key, gate)
