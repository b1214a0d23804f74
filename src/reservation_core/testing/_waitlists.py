"""The model's waiting lists: entries, live positions, and who a freeing move offers seats to.

Written from the contract (docs/waitlists.md): entries wait in join order; a move that frees
seats on a schedule offers them, in that transaction, to the schedule's ``WAITING``
entries that fit the seats now free in the schedule and each of its pools, first fit (an
entry too big keeps its place), skipping a user who holds an active reservation there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

from reservation_core.domain import Reservation, ReservationStatus, WaitlistEntry, WaitlistStatus

WAITING, OFFERED = WaitlistStatus.WAITING, WaitlistStatus.OFFERED
#: What an ``OFFERED`` entry becomes when its reservation leaves ``HELD``.
SETTLED = {
    ReservationStatus.CONFIRMED: WaitlistStatus.ACCEPTED,
    ReservationStatus.EXPIRED: WaitlistStatus.EXPIRED,
    ReservationStatus.CANCELLED: WaitlistStatus.LEFT,
    ReservationStatus.REFUNDED: WaitlistStatus.LEFT,
}


@dataclasses.dataclass
class Waiter:
    """An entry as the model knows it: the entry (position aside) and its ``offer_for``."""

    entry: WaitlistEntry
    offer_for: timedelta


class Waitlists:
    """Every entry of a run, in join order."""

    def __init__(self) -> None:
        self.waiters: dict[str, Waiter] = {}

    def on_the_list(self, schedule_id: str) -> bool:
        """Whether the schedule's list holds a ``WAITING`` or ``OFFERED`` entry."""
        return any(
            w.entry.schedule_id == schedule_id and w.entry.status.on_the_list
            for w in self.waiters.values()
        )

    def active_entry(self, schedule_id: str, user_id: str) -> WaitlistEntry | None:
        """The user's ``WAITING`` or ``OFFERED`` entry on the schedule."""
        for w in self.waiters.values():
            e = w.entry
            if (e.schedule_id, e.user_id) == (schedule_id, user_id) and e.status.on_the_list:
                return self.entry(e.id)
        return None

    def entry(self, entry_id: str) -> WaitlistEntry:
        """The entry as ``get_waitlist_entry`` must answer: its live position filled in."""
        e = self.waiters[entry_id].entry
        if e.status is not WAITING:
            return e
        ahead = [w.entry.id for w in self.waiters.values() if w.entry.schedule_id == e.schedule_id]
        waiting = [i for i in ahead if self.waiters[i].entry.status is WAITING]
        return dataclasses.replace(e, position=waiting.index(entry_id) + 1)

    def add(self, entry: WaitlistEntry, offer_for: timedelta) -> None:
        """Record a joined entry (at the end of the line)."""
        self.waiters[entry.id] = Waiter(dataclasses.replace(entry, position=None), offer_for)

    def move(self, entry_id: str, status: WaitlistStatus, at: datetime, rid: str | None) -> None:
        """Record an entry's move (and an offer's reservation)."""
        w = self.waiters[entry_id]
        w.entry = dataclasses.replace(
            w.entry,
            status=status,
            updated_at=at,
            reservation_id=rid or w.entry.reservation_id,
            position=None,
        )

    def settle(self, reservation: Reservation) -> None:
        """An offer's reservation left ``HELD``: its entry moves on, at that moment."""
        target = SETTLED.get(reservation.status)
        for w in self.waiters.values():
            if w.entry.reservation_id == reservation.id and w.entry.status is OFFERED and target:
                self.move(w.entry.id, target, reservation.updated_at, None)

    def offer_plan(
        self,
        schedule_id: str,
        counters: tuple[str, ...],
        remaining: Callable[[str], int],
        busy: Callable[[str], bool],
    ) -> list[Waiter]:
        """The entries a freeing move on ``schedule_id`` offers seats to, first fit in join order.

        ``remaining(counter)`` is a counter's free seats; ``busy(user)`` whether the user
        holds an active reservation on the schedule (such an entry keeps its place).
        """
        free = {counter: remaining(counter) for counter in counters}
        offers: list[Waiter] = []
        for w in self.waiters.values():
            e = w.entry
            if e.schedule_id != schedule_id or e.status is not WAITING or busy(e.user_id):
                continue
            if any(e.quantity > free[counter] for counter in counters):
                continue
            offers.append(w)
            for counter in counters:
                free[counter] -= e.quantity
            if min(free.values()) <= 0:
                break
        return offers
