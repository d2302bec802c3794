"""Celery tasks of the send pipeline: one send per message, and the periodic outbox sweep."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from . import outbox, sending


@shared_task(
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def send_message(message_id: str) -> str:
    """Claim and send one queued message; a duplicate or early run changes nothing.

    Provider errors are retried by rescheduling the message row (backoff in the database), not by
    Celery; a database error before the claim retries the task, after it the lease runs out and
    the sweep takes the message again.

    :param message_id: the Message's primary key.
    """
    return sending.send(message_id)


@shared_task(ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    """Every 15 s: expire overdue messages and enqueue due ones whose task was lost or late."""
    return outbox.sweep()
