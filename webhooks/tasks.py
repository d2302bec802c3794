"""Tasks of the `events` queue: process what was stored; redrive lost events; purge old ones."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from messaging import services as messaging

from . import processing, wake
from .models import WebhookEvent

logger = logging.getLogger(__name__)

# Reference R6: dedupe keys must outlive provider retries (Meta retries for 7 days).
MIN_RETENTION_DAYS = 7
DRAIN_BATCH = 100
DRAIN_SECONDS = 20.0


@shared_task(name=wake.PROCESS_PENDING, ignore_result=True)
def process_pending() -> int:
    """Woken by ingest: process `received` events, oldest first, then wake again if time ran out.

    An event whose processing hit a database error goes to its own retried task.
    """
    deadline, done = time.monotonic() + DRAIN_SECONDS, 0
    while time.monotonic() < deadline:
        pending = WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED)
        ids = list(pending.order_by("received_at", "id").values_list("pk", flat=True)[:DRAIN_BATCH])
        if not ids:
            return done
        for event_id in ids:
            try:
                done += processing.process(event_id) != "skipped"
            except DatabaseError:
                logger.exception("webhook event %s: database error, retried on its own", event_id)
                wake.enqueue(event_id)
            except Exception:
                logger.exception("webhook event %s failed", event_id)
    wake.wake()
    return done


@shared_task(name=wake.PROCESS_ONE, ignore_result=True)
def process_webhook_event(event_id: int) -> str:
    """Claim, normalize and dispatch one event; running it again for the same id changes nothing.

    A failure is kept on the row and tried again by the redrive after the work queue's backoff.

    :param event_id: the WebhookEvent's primary key.
    """
    return processing.process(event_id)


@shared_task(ignore_result=True)
def redrive_webhook_events() -> int:
    """Every minute: re-enqueue lost or due events; apply receipts that found their message."""
    count = processing.redrive()
    messaging.apply_waiting_receipts()
    return count


@shared_task(ignore_result=True)
def purge_webhook_events() -> int:
    """Daily: delete events past WEBHOOK_RETENTION_DAYS and stale receipts."""
    days = max(settings.WEBHOOK_RETENTION_DAYS, MIN_RETENTION_DAYS)
    deleted = processing.purge(days)
    messaging.drop_stale_receipts()
    messaging.drop_stale_echoes()
    return deleted
