"""Freed seats go to the waiting list, in the transaction that frees them (private).

Every move that frees seats on a schedule (a cancel or refund, an expiry, a bigger
capacity, an offer lapsing or its entry leaving) calls :func:`offer_seats` before it
commits, if the schedule's waiting list holds anyone: the ``WAITING`` entries that fit
the seats now free (in the schedule and each of its pools), first fit in join order, are
offered them as ``HELD`` reservations. So a direct booking never takes seats a waiting
entry could have had. A schedule whose list is empty pays nothing: the seat release
itself says how many wait (``ScheduleRepository.release_seats``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from reservation_core.domain import Reservation, ReservationStatus
from reservation_core.domain._booking import counters_of, fits
from reservation_core.domain._waitlist import (
    SETTLED,
    WaitlistEntry,
    WaitlistStatus,
    offer_expiry,
    offer_reservation_id,
)
from reservation_core.ports import AbstractUnitOfWork, TransientConflict

WAITING, OFFERED = WaitlistStatus.WAITING, WaitlistStatus.OFFERED


def settle(uow: AbstractUnitOfWork, entry: WaitlistEntry, now: datetime) -> bool:
    """Move an ``OFFERED`` entry on once its reservation left ``HELD``; whether it moved.

    Confirmed: ``ACCEPTED``; expired: ``EXPIRED``; cancelled or refunded: ``LEFT``. The
    schedule's row is locked by the caller (its ``waitlisted`` count goes down).
    """
    if entry.status is not OFFERED or entry.reservation_id is None:
        return False
    reservation = uow.reservations.get(entry.reservation_id)
    target = None if reservation is None else SETTLED.get(reservation.status)
    if target is None:
        return False
    if not uow.waitlist.move(entry.id, OFFERED, target, now):
        raise TransientConflict("a waiting-list entry moved under a held schedule lock")
    uow.schedules.move_waitlist(entry.schedule_id, -1)
    return True


def settle_offer(uow: AbstractUnitOfWork, reservation_id: str, now: datetime) -> None:
    """:func:`settle` the entry whose offer is ``reservation_id``, if there is one."""
    entry = uow.waitlist.by_reservation(reservation_id)
    if entry is not None:
        settle(uow, entry, now)


def offer_seats(uow: AbstractUnitOfWork, schedule_id: str, now: datetime) -> int:
    """Offer the schedule's free seats to its waiting list, first fit; how many offers.

    Settles the list's answered offers first (confirmed, expired, cancelled). The caller
    has freed seats on the schedule in this unit of work, so it holds the schedule's and
    its pools' locks (read again here, in the order of their ids).

    The list is read from its head, a page at a time (each page four times the one
    before, read again from the head), and further only while seats stay free and
    entries remain: a cancel on a long list reads a page, not the list.
    """
    counters = uow.schedules.lock([schedule_id])
    schedule = counters.get(schedule_id)
    if schedule is None or not schedule.waitlisted:
        return 0
    for entry in uow.waitlist.answered(schedule_id):
        settle(uow, entry, now)
    counted = counters_of(schedule)
    free = {counter: counters[counter].remaining for counter in counted}
    offers, seen, limit = 0, 0, _FIRST_PAGE
    while min(free.values()) > 0:
        waiting = uow.waitlist.waiting(schedule_id, limit)
        # The entries before ``seen`` were passed over already (offered ones left the list).
        page = waiting[seen - offers :]
        active = uow.reservations.active_users([(schedule_id, e.user_id) for e, _ in page])
        for entry, offer_for in page:
            seen += 1
            if (schedule_id, entry.user_id) in active:  # booked directly since: keeps its place
                continue
            if not all(fits(entry.quantity, free[counter]) for counter in counted):
                continue  # first fit: too big for now, it keeps its place
            _offer(uow, entry, offer_for, counted, now)
            for counter in counted:
                free[counter] -= entry.quantity
            offers += 1
            if min(free.values()) <= 0:
                break
        if len(waiting) < limit:  # the whole list was read
            break
        limit *= 4
    return offers


#: The entries the offers' walk reads first; few limits, so few distinct statements.
_FIRST_PAGE = 16


def _offer(
    uow: AbstractUnitOfWork,
    entry: WaitlistEntry,
    offer_for: timedelta,
    counted: Sequence[str],
    now: datetime,
) -> None:
    """Offer ``entry`` its seats: a HELD reservation taking them from ``counted``."""
    hold = Reservation(
        id=offer_reservation_id(),
        schedule_id=entry.schedule_id,
        user_id=entry.user_id,
        quantity=entry.quantity,
        status=ReservationStatus.HELD,
        created_at=now,
        updated_at=now,
        expires_at=offer_expiry(now, offer_for),
    )
    uow.schedules.move_seats(dict.fromkeys(counted, entry.quantity))
    uow.reservations.insert([hold])
    if not uow.waitlist.move(entry.id, WAITING, OFFERED, now, hold.id):
        raise TransientConflict("a waiting entry moved under a held schedule lock")
