"""The tests' Django project: examples/django_app with a test database per backend.

``default`` is a SQLite file; ``postgresql`` and ``mariadb`` are the databases of
``RESERVATION_CORE_POSTGRESQL_URL`` and ``RESERVATION_CORE_MARIADB_URL`` when set. Django's
test databases are named after them with ``_django`` added (``test_django`` for ``test``),
so runs pointed at different databases on one server never share one.
"""

from __future__ import annotations

import os
import tempfile

from examples.django_app.settings import *  # noqa: F403
from examples.django_app.settings import database_from_url
from tests.databases import URL_VARIABLES

_SQLITE = os.path.join(tempfile.gettempdir(), f"rc-django-{os.getpid()}.sqlite3")

DATABASES = {"default": database_from_url(f"sqlite:///{_SQLITE}")}
DATABASES["default"]["TEST"] = {"NAME": _SQLITE.replace(".sqlite3", "-test.sqlite3")}
for _name, _variable in URL_VARIABLES.items():
    _url = os.environ.get(_variable)
    if _url:
        _database = database_from_url(_url)
        # No dependency on "default": a run selecting one server's tests creates only its.
        _database["TEST"] = {"NAME": f"{_database['NAME']}_django", "DEPENDENCIES": []}
        # Django opens a request transaction on every alias that asks for one: only the
        # default does; views booking elsewhere open theirs (transaction.atomic(using=...)).
        _database["ATOMIC_REQUESTS"] = False
        if _name == "mariadb":
            _database["TEST"].update(CHARSET="utf8mb4", COLLATION="utf8mb4_bin")
        DATABASES[_name] = _database
