"""Celery tasks of inbound media: fetch one file (queue `events`), sweep and purge (chores)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from . import media


@shared_task(
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def fetch_media(media_id: int) -> str:
    """Fetch, check and store one inbound media file; a duplicate or early run changes nothing.

    Provider errors are retried from the row (its `next_attempt_at`), not by Celery.

    :param media_id: the MediaFile's primary key.
    """
    return media.fetch(media_id)


@shared_task(ignore_result=True)
def sweep_media() -> int:
    """Every minute: wake files due for a retry, or whose task was lost."""
    return media.wake_due()


@shared_task(ignore_result=True)
def purge_media() -> int:
    """Daily: delete stored files older than MEDIA_RETENTION_DAYS."""
    return media.purge_expired(settings.MEDIA_RETENTION_DAYS)
