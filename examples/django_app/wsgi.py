"""The WSGI entry point for a server: ``gunicorn examples.django_app.wsgi``."""

from examples.django_app import create_app

application = create_app()
