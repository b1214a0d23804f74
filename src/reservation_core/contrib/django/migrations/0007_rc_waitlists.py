"""Alembic revision ``0007_rc_waitlists``: waiting lists."""

from django.db import migrations

from reservation_core.contrib.django._schema import revision_operation


class Migration(migrations.Migration):
    """Add ``rc_schedules.waitlisted`` and ``rc_waitlist_entries``."""

    dependencies = [("reservation_core", "0006_rc_orders_and_pools")]
    operations = [revision_operation("0007_rc_waitlists")]
