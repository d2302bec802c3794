"""Celery tasks of the `notify` queue: post one delivery; sweep lost ones; purge old ones."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from . import claims, delivery, services

# Reference R6: webhook records outlive provider retries (7 days); deliveries follow the same rule.
MIN_RETENTION_DAYS = 7


@shared_task(
    name=claims.DELIVER_TASK,
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def deliver(delivery_id: str) -> str:
    """Post one delivery to its endpoint; its retries are scheduled by the delivery itself.

    :param delivery_id: the Delivery's primary key.
    """
    return delivery.deliver(delivery_id)


@shared_task(ignore_result=True)
def sweep_deliveries() -> int:
    """Every minute: wake workers for due pending deliveries whose task was lost."""
    return services.sweep()


@shared_task(ignore_result=True)
def purge_deliveries() -> int:
    """Daily: delete delivered and failed deliveries past WEBHOOK_RETENTION_DAYS."""
    return services.purge(max(settings.WEBHOOK_RETENTION_DAYS, MIN_RETENTION_DAYS))
