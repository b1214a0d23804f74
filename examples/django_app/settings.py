"""Settings of the example project: Django's database, reservation_core installed.

The database is ``RESERVATION_CORE_EXAMPLE_DATABASE_URL`` (a SQLAlchemy-style URL:
``postgresql://user@host/db``, ``mysql://root@host/db``), else ``db.sqlite3`` beside
``manage.py``'s working directory.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy.engine import make_url

from examples._common import MAX_BODY_BYTES

DATABASE_URL_VARIABLE = "RESERVATION_CORE_EXAMPLE_DATABASE_URL"

_ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
}


def database_from_url(url: str) -> dict[str, Any]:
    """A ``DATABASES`` entry for a database URL, with the options reservation_core wants.

    SQLite: ``BEGIN IMMEDIATE`` transactions (writers queue on the busy timeout instead of
    failing when both upgrade a read lock). MariaDB/MySQL: 4-byte UTF-8 on the connection
    (Django's default isolation there, READ COMMITTED, is the one reservation_core needs).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    database: dict[str, Any] = {
        "ENGINE": _ENGINES[backend],
        "NAME": parsed.database or "",
        "USER": parsed.username or "",
        "PASSWORD": parsed.password or "",
        "HOST": parsed.host or "",
        "PORT": str(parsed.port or ""),
        # Every view runs in a transaction; a booking inside it joins it.
        "ATOMIC_REQUESTS": True,
    }
    if backend == "sqlite":
        database["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}
    elif backend in ("mysql", "mariadb"):
        database["OPTIONS"] = {"charset": "utf8mb4"}
    return database


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "examples.django_app.urls"
USE_TZ = True

DATABASES = {
    "default": database_from_url(os.environ.get(DATABASE_URL_VARIABLE, "sqlite:///db.sqlite3"))
}
RESERVATION_CORE = {"DATABASE": "default", "IDEMPOTENCY_TTL": 24 * 3600}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "reservation_core.contrib.django",
    "examples.django_app.apps.ShopConfig",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The one place a BusinessException becomes an HTTP response.
    "reservation_core.contrib.django.middleware.BusinessExceptionMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "static/"
# A larger body is refused unread (the views answer 413 in the library's JSON).
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
# The API is CSRF-exempt; the admin's forms are checked, and a failure answers JSON too.
CSRF_FAILURE_VIEW = "examples.django_app.views.csrf_failure"
