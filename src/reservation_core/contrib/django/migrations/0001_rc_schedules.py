"""Alembic revision ``0001_rc_schedules``: schedules and reservations."""

from django.db import migrations, models

from reservation_core.contrib.django._schema import revision_operation


class Migration(migrations.Migration):
    """Create ``rc_schedules`` and ``rc_reservations``; the read-only models over them."""

    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [
        revision_operation("0001_rc_schedules"),
        migrations.CreateModel(
            name="Schedule",
            fields=[
                ("id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("capacity", models.IntegerField()),
                ("reserved", models.IntegerField()),
            ],
            options={"db_table": "rc_schedules", "ordering": ("id",), "managed": False},
        ),
        migrations.CreateModel(
            name="Reservation",
            fields=[
                ("id", models.CharField(max_length=36, primary_key=True, serialize=False)),
                ("user_id", models.CharField(max_length=64)),
                ("quantity", models.IntegerField()),
                ("status", models.CharField(max_length=16)),
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
            options={"db_table": "rc_reservations", "ordering": ("-created_at",), "managed": False},
        ),
    ]
