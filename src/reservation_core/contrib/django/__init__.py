"""reservation_core as a Django app: one database configuration, Django's transactions.

Add ``"reservation_core.contrib.django"`` to ``INSTALLED_APPS`` and run ``manage.py
migrate``: the ``rc_`` tables are created on the database of your ``DATABASES`` (SQLite,
PostgreSQL or MariaDB/MySQL), by migrations that apply the package's Alembic revisions.
Then book from a view::

    from django.db import transaction
    from reservation_core.contrib.django import get_service

    with transaction.atomic():
        booking = get_service().create_reservation("yoga-monday", "alice")
        Order.objects.create(reservation_id=booking.id)

Inside ``transaction.atomic`` (or with ``ATOMIC_REQUESTS``) the booking joins the block:
both rows commit together, or neither. Outside one, each use case is its own transaction,
retried on transient conflicts. ``BusinessExceptionMiddleware`` answers every
``BusinessException`` as JSON; the admin shows schedules and reservations read-only;
``manage.py reservation_core_audit [--repair]`` checks the seat counts.

Install with ``pip install "reservation-core[django]"``.
"""

from __future__ import annotations

from ._uow import DjangoUnitOfWork
from .middleware import BusinessExceptionMiddleware
from .services import get_service

__all__ = ["BusinessExceptionMiddleware", "DjangoUnitOfWork", "get_service"]
