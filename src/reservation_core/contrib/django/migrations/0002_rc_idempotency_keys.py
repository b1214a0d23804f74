"""Alembic revision ``0002_rc_idempotency_keys``: idempotency keys."""

from django.db import migrations

from reservation_core.contrib.django._schema import revision_operation


class Migration(migrations.Migration):
    """Create ``rc_idempotency_keys``."""

    dependencies = [("reservation_core", "0001_rc_schedules")]
    operations = [revision_operation("0002_rc_idempotency_keys")]
