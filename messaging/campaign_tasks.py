"""Periodic campaign bookkeeping (imported by Celery through CELERY_IMPORTS)."""

from __future__ import annotations

from celery import shared_task

from . import campaigns


@shared_task(ignore_result=True)
def complete_campaigns() -> int:
    """Every 30 s: running campaigns with nothing left to send become completed."""
    return campaigns.complete_finished()
