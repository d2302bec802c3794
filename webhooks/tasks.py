"""Celery tasks: process one stored event; periodically redrive lost ones and purge old ones."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from messaging import services as messaging

from . import outbound, processing

# Reference R6: dedupe keys must outlive provider retries (Meta retries for 7 days).
MIN_RETENTION_DAYS = 7


@shared_task(ignore_result=True)
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
    """Daily: delete events and finished deliveries past WEBHOOK_RETENTION_DAYS, stale receipts."""
    days = max(settings.WEBHOOK_RETENTION_DAYS, MIN_RETENTION_DAYS)
    deleted = processing.purge(days)
    outbound.purge(days)
    messaging.drop_stale_receipts()
    messaging.drop_stale_echoes()
    return deleted


@shared_task(ignore_result=True)
def deliver(delivery_id: str) -> str:
    """Post one outbound delivery to a tenant's endpoint; retries are scheduled by the delivery.

    A database error leaves the delivery leased; once the lease runs out the sweep enqueues it.
    """
    return outbound.deliver(delivery_id)


@shared_task(ignore_result=True)
def sweep_webhook_deliveries() -> int:
    """Every minute: re-enqueue due pending deliveries whose task was lost."""
    return outbound.sweep()
