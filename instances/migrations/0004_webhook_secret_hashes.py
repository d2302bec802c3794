"""Hashes of each number's webhook secrets, so webhooks authenticate without decrypting them."""

import hashlib
from typing import Any

from django.db import migrations, models


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest() if value else ""


def fill(apps: Any, schema_editor: Any) -> None:
    Number = apps.get_model("instances", "Number")
    for number in Number.objects.all().iterator(chunk_size=500):
        Number.objects.filter(pk=number.pk).update(
            webhook_secret_hash=digest(number.webhook_secret),
            previous_webhook_secret_hash=digest(number.previous_webhook_secret),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("instances", "0003_provider_event_time"),
    ]

    operations = [
        migrations.AddField(
            model_name="number",
            name="previous_webhook_secret_hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="number",
            name="webhook_secret_hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
