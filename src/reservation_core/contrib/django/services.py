"""The ready service of a Django project, configured by the ``RESERVATION_CORE`` setting.

.. code-block:: python

    RESERVATION_CORE = {
        "DATABASE": "default",          # the alias the service books on
        "IDEMPOTENCY_TTL": 86400,       # seconds (or a timedelta)
        "MAX_ATTEMPTS": 10,             # ReservationService(max_attempts=...)
        "RETRY_BACKOFF": 0.002,         # seconds
        "MAX_CONCURRENT_PER_SCHEDULE": 2,
    }

Every key is optional; an unknown key is an ``ImproperlyConfigured`` error at the first
:func:`get_service`.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from reservation_core.service import ReservationService

from ._uow import DjangoUnitOfWork

__all__ = ["get_service", "reset_services"]

SETTING = "RESERVATION_CORE"
_OPTIONS = {
    "IDEMPOTENCY_TTL": "idempotency_ttl",
    "MAX_ATTEMPTS": "max_attempts",
    "RETRY_BACKOFF": "retry_backoff",
    "MAX_CONCURRENT_PER_SCHEDULE": "max_concurrent_per_schedule",
}
_services: dict[str, ReservationService] = {}
_lock = threading.Lock()


def get_service(using: str | None = None) -> ReservationService:
    """The project's ``ReservationService`` on a database alias, built once per alias.

    Args:
        using: the alias; default ``RESERVATION_CORE["DATABASE"]``, else ``"default"``.

    Raises:
        ImproperlyConfigured: an unknown key in ``RESERVATION_CORE``.

    Examples:
        >>> from reservation_core.contrib.django import get_service  # doctest: +SKIP
        >>> get_service().create_reservation("yoga-monday", "alice")  # doctest: +SKIP
    """
    configured: dict[str, Any] = dict(getattr(settings, SETTING, {}))
    alias = using or configured.get("DATABASE") or "default"
    service = _services.get(alias)
    if service is not None:
        return service
    with _lock:
        service = _services.get(alias)
        if service is None:
            service = _services[alias] = ReservationService(
                lambda: DjangoUnitOfWork(alias), **_options(configured)
            )
    return service


def _options(configured: dict[str, Any]) -> dict[str, Any]:
    unknown = set(configured) - set(_OPTIONS) - {"DATABASE"}
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING} has unknown keys {sorted(unknown)}; known: {['DATABASE', *_OPTIONS]}"
        )
    options = {_OPTIONS[key]: value for key, value in configured.items() if key in _OPTIONS}
    ttl = options.get("idempotency_ttl")
    if isinstance(ttl, int | float):
        options["idempotency_ttl"] = timedelta(seconds=ttl)
    return options


def reset_services(*, setting: str | None = None, **_: Any) -> None:
    """Forget the built services (on a change of ``RESERVATION_CORE`` or ``DATABASES``)."""
    if setting in (None, SETTING, "DATABASES"):
        with _lock:
            _services.clear()
