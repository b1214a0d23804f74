"""Alembic revision ``0005_rc_holds``: holds, their statuses and the active-user guard."""

from django.db import migrations

from reservation_core.contrib.django._schema import revision_operation


class Migration(migrations.Migration):
    """Add ``expires_at``, the HELD and EXPIRED statuses and ``active_user_id``."""

    dependencies = [("reservation_core", "0004_rc_events")]
    operations = [revision_operation("0005_rc_holds")]
