"""What the Django tests read back: a schedule's seats and confirmed reservations, orders."""

from __future__ import annotations

import dataclasses

from django.db.models import Sum

from examples.django_app.models import Order
from reservation_core.contrib.django.models import Reservation, Schedule


@dataclasses.dataclass(frozen=True)
class Seats:
    reserved: int
    confirmed: int
    confirmed_count: int

    @property
    def consistent(self) -> bool:
        return self.reserved == self.confirmed


def seats(alias: str, schedule_id: str) -> Seats:
    """The schedule's stored count and its confirmed reservations, read through the models."""
    schedule = Schedule.objects.using(alias).get(id=schedule_id)
    confirmed = Reservation.objects.using(alias).filter(schedule_id=schedule_id, status="CONFIRMED")
    total = confirmed.aggregate(total=Sum("quantity"))["total"] or 0
    return Seats(schedule.reserved, int(total), confirmed.count())


def orders(alias: str, reservation_id: str) -> int:
    return Order.objects.using(alias).filter(reservation_id=reservation_id).count()


def reservation_exists(alias: str, reservation_id: str) -> bool:
    return Reservation.objects.using(alias).filter(id=reservation_id).exists()
