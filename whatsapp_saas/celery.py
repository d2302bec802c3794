"""Celery app: configured from Django settings (CELERY_*), tasks discovered per app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_saas.settings.base")

app = Celery("whatsapp_saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic tasks join this schedule as their apps land; beat is the single scheduler.
app.conf.beat_schedule = {}
