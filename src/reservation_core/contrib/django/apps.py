"""The Django app configuration: label ``reservation_core``."""

from __future__ import annotations

from django.apps import AppConfig


class ReservationCoreConfig(AppConfig):
    """reservation_core as a Django app: migrations, read-only admin, ``audit`` command."""

    name = "reservation_core.contrib.django"
    label = "reservation_core"
    verbose_name = "Reservations"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        """Forget built services when the ``RESERVATION_CORE`` setting changes (tests)."""
        from django.core.signals import setting_changed  # noqa: PLC0415

        from .services import reset_services  # noqa: PLC0415

        setting_changed.connect(reset_services, dispatch_uid="reservation_core.reset_services")
