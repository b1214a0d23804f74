"""Django's command line for the example: ``python -m examples.django_app.manage runserver``."""

import sys

from django.core.management import execute_from_command_line

from examples.django_app import create_app

if __name__ == "__main__":
    create_app()
    execute_from_command_line(sys.argv)
