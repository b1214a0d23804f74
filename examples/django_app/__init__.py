"""reservation_core behind Django: a minimal project without Django's ORM.

Run from the repository root (the engine comes from ``RESERVATION_CORE_EXAMPLE_DATABASE_URL``,
default a SQLite file)::

    python -m examples.django_app.manage runserver

Django is configured once per process, so the service lives here, set by :func:`create_app`;
the views ask :func:`service` for it. ONE middleware (``middleware.py``) maps every
``BusinessException`` in ``process_exception``.
"""

from __future__ import annotations

import os

import django
from django.core.handlers.wsgi import WSGIHandler
from sqlalchemy import Engine

from examples._common import build_service, engine_from_environment
from reservation_core import ReservationService

_services: dict[str, ReservationService] = {}


def create_app(engine: Engine | None = None) -> WSGIHandler:
    """Set Django up with this project's settings and a service on ``engine``; the WSGI app.

    Tests inject an engine and drive the app with ``django.test.Client``.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    django.setup()
    _services["default"] = build_service(
        engine if engine is not None else engine_from_environment()
    )
    return WSGIHandler()


def service() -> ReservationService:
    """The service :func:`create_app` built."""
    try:
        return _services["default"]
    except KeyError:
        raise RuntimeError("call examples.django_app.create_app() first") from None
