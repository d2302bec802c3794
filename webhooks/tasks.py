"""Celery tasks: process one stored event; periodically redrive lost ones and purge old ones."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from messaging import services as messaging

from . import processing

# Reference R6: dedupe keys must outlive provider retries (Meta retries for 7 days).
MIN_RETENTION_DAYS = 7


@shared_task(
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def process_webhook_event(event_id: int) -> str:
    """Claim, normalize and dispatch one event; running it again for the same id changes nothing.

    :param event_id: the WebhookEvent's primary key.
    """
    return processing.process(event_id)


@shared_task(ignore_result=True)
def redrive_webhook_events() -> int:
    """Every minute: re-enqueue events whose task was lost; apply receipts that found their message."""
    count = processing.redrive()
    messaging.apply_waiting_receipts()
    return count


@shared_task(ignore_result=True)
def purge_webhook_events() -> int:
    """Daily: delete events past WEBHOOK_RETENTION_DAYS and stale receipts."""
    days = max(settings.WEBHOOK_RETENTION_DAYS, MIN_RETENTION_DAYS)
    deleted = processing.purge(days)
    messaging.drop_stale_receipts()
    return deleted
