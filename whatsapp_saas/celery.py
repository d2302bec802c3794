"""Celery app: configured from Django settings (CELERY_*), tasks discovered per app."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_saas.settings.base")

app = Celery("whatsapp_saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Beat is the single scheduler. Short-period tasks expire so a backlog never piles up.
app.conf.beat_schedule = {
    "poll-pending-numbers": {"task": "instances.tasks.poll_pending_numbers",
                             "schedule": 3.0, "options": {"expires": 3}},
    "reconcile-connected-numbers": {"task": "instances.tasks.reconcile_connected_numbers",
                                    "schedule": 60.0, "options": {"expires": 60}},
    "restart-stuck-numbers": {"task": "instances.tasks.restart_stuck_numbers",
                              "schedule": 30.0, "options": {"expires": 30}},
    "check-provider-health": {"task": "instances.tasks.check_provider_health",
                              "schedule": 60.0, "options": {"expires": 60}},
    "finish-deletions": {"task": "instances.tasks.finish_deletions",
                         "schedule": 60.0, "options": {"expires": 60}},
    "complete-campaigns": {"task": "messaging.campaign_tasks.complete_campaigns",
                           "schedule": 30.0, "options": {"expires": 30}},
    "sweep-outbox": {"task": "messaging.tasks.sweep_outbox",
                     "schedule": 15.0, "options": {"expires": 15}},
    "sync-all-providers": {"task": "instances.tasks.sync_all_providers",
                           "schedule": crontab(hour=3, minute=17)},
    "redrive-webhook-events": {"task": "webhooks.tasks.redrive_webhook_events",
                               "schedule": 60.0, "options": {"expires": 60}},
    "purge-webhook-events": {"task": "webhooks.tasks.purge_webhook_events",
                             "schedule": crontab(hour=3, minute=41)},
}
