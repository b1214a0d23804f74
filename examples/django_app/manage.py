"""Django's command line for the example: ``python -m examples.django_app.manage migrate``."""

import os
import sys

from django.core.management import execute_from_command_line

from examples.django_app import SETTINGS

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    execute_from_command_line(sys.argv)
