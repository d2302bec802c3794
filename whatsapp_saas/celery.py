"""Celery app: configured from Django settings (CELERY_*), tasks discovered per app."""

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_saas.settings.base")

app = Celery("whatsapp_saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def every(seconds: float, task: str) -> dict[str, Any]:
    """A periodic task that expires after its period, so a stalled worker never builds a backlog."""
    return {"task": task, "schedule": seconds, "options": {"expires": seconds}}


def daily(hour: int, minute: int, task: str) -> dict[str, Any]:
    """A task once a day (UTC)."""
    return {"task": task, "schedule": crontab(hour=hour, minute=minute)}


# Beat is the single scheduler of these.
app.conf.beat_schedule = {
    "poll-pending-numbers": every(3, "instances.tasks.poll_pending_numbers"),
    "reconcile-connected-numbers": every(60, "instances.tasks.reconcile_connected_numbers"),
    "restart-stuck-numbers": every(30, "instances.tasks.restart_stuck_numbers"),
    "check-provider-health": every(60, "instances.tasks.check_provider_health"),
    "finish-deletions": every(60, "instances.tasks.finish_deletions"),
    "sweep-outbox": every(15, "messaging.tasks.sweep_outbox"),
    "complete-campaigns": every(30, "messaging.campaign_tasks.complete_campaigns"),
    "redrive-webhook-events": every(60, "webhooks.tasks.redrive_webhook_events"),
    "sweep-webhook-deliveries": every(60, "webhooks.tasks.sweep_webhook_deliveries"),
    "sync-all-providers": daily(3, 17, "instances.tasks.sync_all_providers"),
    "purge-webhook-events": daily(3, 41, "webhooks.tasks.purge_webhook_events"),
}

# Metrics-folder hooks of the worker processes (after the app exists: they connect to its signals).
from . import worker_signals  # noqa: E402,F401
