"""Alembic revision ``0007_rc_waitlists``: waiting lists."""

from django.db import migrations, models

from reservation_core.contrib.django._schema import revision_operation


class Migration(migrations.Migration):
    """Add ``rc_schedules.waitlisted`` and ``rc_waitlist_entries``; the read-only model."""

    dependencies = [("reservation_core", "0006_rc_orders_and_pools")]
    operations = [
        revision_operation("0007_rc_waitlists"),
        migrations.CreateModel(
            name="WaitlistEntry",
            fields=[
                ("seq", models.BigIntegerField(primary_key=True, serialize=False)),
                ("entry_id", models.CharField(db_column="id", max_length=36, unique=True)),
                ("user_id", models.CharField(max_length=64)),
                ("quantity", models.IntegerField()),
                ("status", models.CharField(max_length=16)),
                ("reservation_id", models.CharField(max_length=36, null=True)),
                ("created_at", models.DateTimeField()),
                ("updated_at", models.DateTimeField()),
                (
                    "schedule",
                    models.ForeignKey(
                        db_column="schedule_id",
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        to="reservation_core.schedule",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "waitlist entries",
                "db_table": "rc_waitlist_entries",
                "ordering": ("seq",),
                "managed": False,
            },
        ),
    ]
