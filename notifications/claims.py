"""How a delivery is held by one worker: claim, lease, fenced outcome, sweep, wake-up.

The one place of the delivery queue's mechanics, so the shared work-queue helper can replace it
(DESIGN.md section 4 "Work"). The row is the job: `next_attempt_at` is when it is due and, while
a worker holds it, the end of the worker's lease; every outcome is written only if that lease is
still the one the worker took.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet

from .models import Delivery
from .transport import CONNECT_TIMEOUT, READ_TIMEOUT

DELIVER_TASK = "notifications.tasks.deliver"
# A claim outlasts the request, so two workers never both post the same delivery.
LEASE = timedelta(seconds=CONNECT_TIMEOUT + READ_TIMEOUT + 20)
SWEEP_BATCH = 500


def claim(delivery_id: str, now: datetime) -> Delivery | None:
    """Take a due pending delivery with one conditional update; None when someone else has it."""
    taken = Delivery.objects.filter(
        pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + LEASE)
    if not taken:
        return None
    return Delivery.objects.select_related("endpoint").get(pk=delivery_id)


def held(delivery: Delivery) -> QuerySet[Delivery]:
    """The delivery, only while this worker's lease is still the one on the row."""
    return Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.PENDING, next_attempt_at=delivery.next_attempt_at
    )


def due(now: datetime, limit: int = SWEEP_BATCH) -> list[str]:
    """Due pending deliveries nobody holds (their task was lost, or their worker died)."""
    rows = (
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return [str(pk) for pk in rows]


def enqueue(delivery_id: str, countdown: float | None = None) -> None:
    """Wake a worker for one delivery (the sweep finds it again if this message is lost)."""
    # A countdown of 0 means "now" to Celery, as None does.
    current_app.signature(DELIVER_TASK, args=(delivery_id,)).apply_async(countdown=countdown or 0)


def enqueue_on_commit(delivery_ids: list[Any]) -> None:
    """Wake workers for these deliveries once the transaction that stored them commits."""
    for pk in delivery_ids:
        transaction.on_commit(partial(enqueue, str(pk)), robust=True)
