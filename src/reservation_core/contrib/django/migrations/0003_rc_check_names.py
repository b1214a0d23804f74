"""Alembic revision ``0003_rc_check_names``: check constraints named as ``create_all`` does."""

from django.db import migrations

from reservation_core.contrib.django._schema import revision_operation


class Migration(migrations.Migration):
    """Rename the check constraints revision 0001 gave a doubled prefix."""

    dependencies = [("reservation_core", "0002_rc_idempotency_keys")]
    operations = [revision_operation("0003_rc_check_names")]
