"""Tasks of the `events` queue: process what was stored; redrive lost events; purge old ones."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from messaging import services as messaging

from . import batch, processing, wake

logger = logging.getLogger(__name__)

# Reference R6: dedupe keys must outlive provider retries (Meta retries for 7 days).
MIN_RETENTION_DAYS = 7
DRAIN_SECONDS = 20.0


@shared_task(name=wake.PROCESS_PENDING, ignore_result=True)
def process_pending() -> int:
    """Woken by ingest: process `received` events in batches, oldest first; wake again if needed.

    A batch whose bulk apply failed is processed one event at a time (webhooks/batch.py).
    """
    deadline, done = time.monotonic() + DRAIN_SECONDS, 0
    while time.monotonic() < deadline:
        try:
            claimed = batch.process_batch()
        except DatabaseError:
            # The redrive re-enqueues what is left `received`; nothing is lost.
            logger.exception("could not claim webhook events")
            return done
        if not claimed:
            return done
        done += claimed
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
