"""Read-only admin pages for schedules (with their pools) and reservations (with their order).

Nothing can be added, changed or deleted here: a change of seats or status must go through
``ReservationService`` (``change_capacity``, ``cancel_reservation``, ...), which keeps the
seat count and the state machine right.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import Reservation, Schedule, WaitlistEntry


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Schedule)
class ScheduleAdmin(_ReadOnlyAdmin):
    """Schedules with their capacity and reserved seats."""

    list_display = ("id", "capacity", "reserved", "pools")
    readonly_fields = ("pools",)
    search_fields = ("id",)

    def pools(self, obj: Schedule) -> str:
        """The pools the schedule's seats also count against, comma-separated."""
        return ", ".join(obj.pool_ids())


@admin.register(Reservation)
class ReservationAdmin(_ReadOnlyAdmin):
    """Reservations, newest first, filterable by status."""

    list_display = ("id", "schedule", "user_id", "quantity", "status", "order_id", "created_at")
    list_filter = ("status",)
    list_select_related = ("schedule",)
    search_fields = ("id", "user_id", "schedule__id", "order_id")


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(_ReadOnlyAdmin):
    """Waiting lists in join order, filterable by status (``join_waitlist`` adds entries)."""

    list_display = ("entry_id", "schedule", "user_id", "quantity", "status", "created_at")
    list_filter = ("status",)
    list_select_related = ("schedule",)
    search_fields = ("entry_id", "user_id", "schedule__id")
