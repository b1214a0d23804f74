"""Read-only Django models over the ``rc_`` tables, for the admin and for reporting.

The tables belong to reservation_core (``managed = False``): its migrations create them,
and every write goes through ``ReservationService``; writing through these models would
bypass the seat count and the state machine.
"""

from __future__ import annotations

from django.db import connections, models


class Schedule(models.Model):
    """A row of ``rc_schedules``."""

    id = models.CharField(primary_key=True, max_length=64)
    capacity = models.IntegerField()
    reserved = models.IntegerField()

    class Meta:
        """Unmanaged: reservation_core's migrations own the table."""

        managed = False
        db_table = "rc_schedules"
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.id} ({self.reserved}/{self.capacity})"

    def pool_ids(self) -> list[str]:
        """The ids of the pools this schedule counts against (``rc_schedule_pools``), sorted."""
        with connections[self._state.db or "default"].cursor() as cursor:
            cursor.execute(
                "SELECT pool_id FROM rc_schedule_pools WHERE schedule_id = %s ORDER BY pool_id",
                [self.id],
            )
            return [row[0] for row in cursor.fetchall()]


class Reservation(models.Model):
    """A row of ``rc_reservations``."""

    id = models.CharField(primary_key=True, max_length=36)
    schedule = models.ForeignKey(
        Schedule, on_delete=models.DO_NOTHING, db_column="schedule_id", db_constraint=False
    )
    user_id = models.CharField(max_length=64)
    quantity = models.IntegerField()
    status = models.CharField(max_length=16)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    order_id = models.CharField(max_length=36, null=True)

    class Meta:
        """Unmanaged: reservation_core's migrations own the table."""

        managed = False
        db_table = "rc_reservations"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return str(self.id)


class WaitlistEntry(models.Model):
    """A row of ``rc_waitlist_entries``: a user's place on a schedule's waiting list."""

    seq = models.BigIntegerField(primary_key=True)
    entry_id = models.CharField(max_length=36, unique=True, db_column="id")
    schedule = models.ForeignKey(
        Schedule, on_delete=models.DO_NOTHING, db_column="schedule_id", db_constraint=False
    )
    user_id = models.CharField(max_length=64)
    quantity = models.IntegerField()
    status = models.CharField(max_length=16)
    reservation_id = models.CharField(max_length=36, null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        """Unmanaged: reservation_core's migrations own the table."""

        managed = False
        db_table = "rc_waitlist_entries"
        ordering = ("seq",)
        verbose_name_plural = "waitlist entries"

    def __str__(self) -> str:
        return str(self.id)
