"""Settings of the example project: no ORM, no sessions, no templates; JSON in and out."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "examples.django_app.urls"
# The one place a BusinessException becomes an HTTP response.
MIDDLEWARE = ["examples.django_app.middleware.BusinessExceptionMiddleware"]
INSTALLED_APPS: list[str] = []
# reservation_core owns its tables through SQLAlchemy; Django's ORM is not used.
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
