"""The delivery queue: pending deliveries worked through the one work-queue helper, and wake-ups.

The row is the job (DESIGN.md section 4 "Work"): `next_attempt_at` says when a pending delivery
is due; a worker takes it with a lease (whatsapp_saas/workqueue.py) that outlasts the request, and
writes the outcome fenced on that lease. A worker that died mid-delivery leaves its lease to run
out; the sweep then finds the delivery claimable again and wakes a worker for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import Q

from whatsapp_saas.workqueue import WorkQueue

from .models import Delivery
from .transport import CONNECT_TIMEOUT, READ_TIMEOUT

DELIVER_TASK = "notifications.tasks.deliver"
SWEEP_BATCH = 500


def lease_time() -> timedelta:
    """A lease outlasts the request, so two workers never both post the same delivery."""
    return timedelta(seconds=CONNECT_TIMEOUT + READ_TIMEOUT + 20)


DELIVERIES: WorkQueue[Delivery] = WorkQueue(
    Delivery,
    lease=lease_time,
    ready=Q(status=Delivery.Status.PENDING),
    order=("next_attempt_at",),
)


def due(now: datetime, limit: int = SWEEP_BATCH) -> list[str]:
    """Due pending deliveries nobody holds (their task was lost, or their worker died)."""
    rows = DELIVERIES.claimable(now).order_by("next_attempt_at").values_list("pk", flat=True)
    return [str(pk) for pk in rows[:limit]]


def enqueue(delivery_id: str, countdown: float | None = None) -> None:
    """Wake a worker for one delivery (the sweep finds it again if this message is lost)."""
    # A countdown of 0 means "now" to Celery, as None does.
    current_app.signature(DELIVER_TASK, args=(delivery_id,)).apply_async(countdown=countdown or 0)


def enqueue_on_commit(delivery_ids: list[Any]) -> None:
    """Wake workers for these deliveries once the transaction that stored them commits."""
    for pk in delivery_ids:
        transaction.on_commit(partial(enqueue, str(pk)), robust=True)
