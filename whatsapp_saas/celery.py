"""Celery app: configured from Django settings (CELERY_*), tasks discovered per app."""

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import setup_logging

from . import broker_fixes

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_saas.settings.base")

broker_fixes.apply()
app = Celery("whatsapp_saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# A chore waits at most this many periods (and never less than a minute) before it is dropped:
# long enough that a busy moment on `maintenance` never loses a run, short enough that a stopped
# worker does not come back to hours of copies. Chores are idempotent; a late copy is harmless.
EXPIRE_AFTER_PERIODS = 4
MIN_EXPIRES = 60.0


@setup_logging.connect
def keep_django_logging(**kwargs: Any) -> None:
    """Workers log through settings.LOGGING (JSON, masked) instead of Celery's own handlers.

    Connecting this signal is how Celery is told not to configure logging itself; Django's
    setup, which the worker runs, has already applied settings.LOGGING.
    """


def every(seconds: float, task: str) -> dict[str, Any]:
    """A periodic chore (routed to `maintenance`) that outlives several of its periods."""
    expires = max(seconds * EXPIRE_AFTER_PERIODS, MIN_EXPIRES)
    return {"task": task, "schedule": seconds, "options": {"expires": expires}}


def daily(hour: int, minute: int, task: str) -> dict[str, Any]:
    """A task once a day (UTC)."""
    return {"task": task, "schedule": crontab(hour=hour, minute=minute)}


# Beat is the single scheduler of these; all of them run on `maintenance` (settings task routes).
app.conf.beat_schedule = {
    "poll-pending-numbers": every(3, "instances.tasks.poll_pending_numbers"),
    "reconcile-connected-numbers": every(60, "instances.tasks.reconcile_connected_numbers"),
    "restart-stuck-numbers": every(30, "instances.tasks.restart_stuck_numbers"),
    "recheck-held-numbers": every(900, "instances.tasks.recheck_held_numbers"),
    "check-provider-health": every(60, "instances.tasks.check_provider_health"),
    "finish-deletions": every(60, "instances.tasks.finish_deletions"),
    "sweep-outbox": every(5, "messaging.tasks.sweep_outbox"),
    "sweep-media": every(60, "messaging.media_tasks.sweep_media"),
    "complete-campaigns": every(30, "messaging.campaign_tasks.complete_campaigns"),
    "redrive-webhook-events": every(60, "webhooks.tasks.redrive_webhook_events"),
    "sweep-webhook-deliveries": every(60, "notifications.tasks.sweep_deliveries"),
    "sync-all-providers": daily(3, 17, "instances.tasks.sync_all_providers"),
    "purge-webhook-events": daily(3, 41, "webhooks.tasks.purge_webhook_events"),
    "purge-webhook-deliveries": daily(3, 47, "notifications.tasks.purge_deliveries"),
    "purge-media": daily(4, 7, "messaging.media_tasks.purge_media"),
}

# Metrics-folder hooks of the worker processes (after the app exists: they connect to its signals).
from . import worker_signals  # noqa: E402,F401
