"""Alembic revision ``0004_rc_events``: events of reservation changes and their deliveries."""

from django.db import migrations

from reservation_core.contrib.django._schema import revision_operation


class Migration(migrations.Migration):
    """Create ``rc_events``, ``rc_event_consumers`` and ``rc_event_deliveries``."""

    dependencies = [("reservation_core", "0003_rc_check_names")]
    operations = [revision_operation("0004_rc_events")]
