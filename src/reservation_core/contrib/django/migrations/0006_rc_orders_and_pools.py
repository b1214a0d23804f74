"""Alembic revision ``0006_rc_orders_and_pools``: orders and shared capacity pools."""

from django.db import migrations, models

from reservation_core.contrib.django._schema import revision_operation


class Migration(migrations.Migration):
    """Add ``pool_count``, ``rc_schedule_pools``, ``order_id``, ``order_line``; model fields."""

    # The index is built CONCURRENTLY on PostgreSQL, which no transaction may hold.
    atomic = False
    dependencies = [("reservation_core", "0005_rc_holds")]
    operations = [
        revision_operation("0006_rc_orders_and_pools"),
        migrations.AddField(
            model_name="reservation",
            name="order_id",
            field=models.CharField(max_length=36, null=True),
        ),
    ]
