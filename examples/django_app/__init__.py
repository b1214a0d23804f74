"""reservation_core in a Django project: Django's database, migrations and transactions.

From the repository root, after ``pip install -e ".[django]"``::

    python -m examples.django_app.manage migrate
    python -m examples.django_app.manage runserver

The database is a SQLite file unless ``RESERVATION_CORE_EXAMPLE_DATABASE_URL`` names
PostgreSQL or MariaDB (``settings.py``). The app ``reservation_core.contrib.django`` is
installed: its migrations create the ``rc_`` tables, its middleware answers every
``BusinessException``, and the views book with ``get_service()`` inside
``transaction.atomic``, writing an order row with each booking.
"""

from __future__ import annotations

import os

import django
from django.core.handlers.wsgi import WSGIHandler

SETTINGS = "examples.django_app.settings"


def create_app() -> WSGIHandler:
    """Set Django up with this project's settings (unless set already); the WSGI app."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    django.setup()
    return WSGIHandler()
