"""Tenants' endpoints and deliveries now live in notifications (its 0002 copied them first)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0003_work_queue_leases"),
        ("notifications", "0002_move_from_webhooks"),
    ]

    operations = [
        migrations.DeleteModel(name="Delivery"),
        migrations.DeleteModel(name="Endpoint"),
    ]
