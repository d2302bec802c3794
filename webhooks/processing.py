"""Process stored events: claim, normalize, dispatch, record the outcome; redrive and purge."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import TypeGuard

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from instances.models import Number
from providers.events import EventType, InvalidEvent, ProviderEvent
from whatsapp_saas import metrics
from whatsapp_saas.workqueue import Lease, WorkQueue, backoff

from .dispatch import dispatch
from .models import WebhookEvent
from .normalizers import get_normalizer
from .wake import enqueue

logger = logging.getLogger(__name__)
S = WebhookEvent.Status

# Events still `received` after this lost their task (crash between store and enqueue).
STUCK_AFTER = timedelta(minutes=1)
MAX_REDRIVES = 10
# A failed event is tried again after the work queue's backoff from this, up to this.
RETRY_BASE, RETRY_MAX = 2.0, 300.0
PURGE_BATCH = 5000


def lease_time() -> timedelta:
    """A claim outlives the task's hard time limit: once it runs out, the worker is gone."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 10)


EVENTS = WorkQueue(
    WebhookEvent,
    lease=lease_time,
    # A `processing` row is claimable only once its lease ran out (the worker died).
    ready=Q(status__in=[S.RECEIVED, S.FAILED, S.PROCESSING]),
    due=None,
    order=("received_at",),
)


class Unprocessable(Exception):
    """An event no retry can help: kept as failed for an operator."""


class Invalid(Unprocessable):
    """A payload its provider cannot have sent: kept as invalid, never applied nor retried."""


def claim(event_id: int) -> Lease[WebhookEvent] | None:
    """Lease the event for this worker (work queue); None when it is not claimable."""
    return EVENTS.take(
        event_id, status=S.PROCESSING, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )


def process(event_id: int) -> str:
    """Process one event once; returns its new status, or "skipped" when it was not claimable."""
    lease = claim(event_id)
    if lease is None:
        return "skipped"
    return run(lease, lease.rows().select_related("number").get())


def run(lease: Lease[WebhookEvent], event: WebhookEvent) -> str:
    """Process one claimed event in its own transaction and record the outcome; its new status.

    An unexpected error is recorded for a retry after a backoff, then raised.
    """
    try:
        with transaction.atomic():
            status, event_type = handle(event)
    except Invalid as exc:
        finish(lease, [event], S.INVALID, event_type=EventType.INVALID, error=str(exc))
        return S.INVALID
    except Unprocessable as exc:
        finish(lease, [event], S.FAILED, error=str(exc))
        return S.FAILED
    except Exception:
        # Visible in the admin, and tried again after a backoff (the redrive picks it up).
        finish(lease, [event], S.FAILED, error=failure(), retry=event.attempts)
        raise
    finish(lease, [event], status, event_type=event_type)
    return status


def handle(event: WebhookEvent) -> tuple[str, str]:
    """Normalize and dispatch; (status, normalized type of the first event)."""
    events = normalize(event)
    event_type = str(events[0].type) if events else ""
    number = event.number
    if not applies_to(number):
        return S.IGNORED, event_type
    return (S.PROCESSED if dispatch(number, events) else S.IGNORED), event_type


def normalize(event: WebhookEvent) -> list[ProviderEvent]:
    """The event's normalized events; Unprocessable or Invalid when there is nothing to apply."""
    payload = event.payload()
    if not isinstance(payload, Mapping):
        raise Unprocessable("The body is not a JSON object.")
    events = list(get_normalizer(event.provider).normalize(payload))
    invalid = [e.reason for e in events if isinstance(e, InvalidEvent)]
    if invalid:
        raise Invalid(invalid[0])
    return events


def applies_to(number: Number | None) -> TypeGuard[Number]:
    """Whether events may change this number (it exists and is not being deleted)."""
    return number is not None and number.deletion_requested_at is None


def failure() -> str:
    """The current exception's traceback, as kept on a failed event."""
    return traceback.format_exc(limit=8)[-4000:]


def finish(
    lease: Lease[WebhookEvent],
    events: Sequence[WebhookEvent],
    status: str,
    *,
    event_type: str = "",
    error: str = "",
    retry: int | None = None,
) -> int:
    """Record one outcome of these events, fenced, and count each; how many rows were written.

    If the write fails, the lease lets them be taken again.

    `retry` (the attempts so far) schedules another try of a failure a retry may fix.
    """
    now = timezone.now()
    fields: dict[str, object] = {"status": status, "error": error, "next_attempt_at": None}
    if event_type:
        fields["event_type"] = event_type
    if status != S.FAILED:
        fields["processed_at"] = now
    if retry is not None and retry < MAX_REDRIVES:
        fields["next_attempt_at"] = now + timedelta(seconds=backoff(retry, RETRY_BASE, RETRY_MAX))
    try:
        written = lease.finish(among=[e.pk for e in events], **fields)
    except DatabaseError:
        logger.exception("could not record the outcome of webhook events %s", lease.ids)
        return 0
    # Counted once the outcome is committed (at once outside a transaction).
    transaction.on_commit(partial(count, events, status, event_type), robust=True)
    return written


def count(events: Sequence[WebhookEvent], status: str, event_type: str) -> None:
    """The one place finished events are counted (whatsapp_saas.metrics)."""
    for event in events:
        metrics.event_processed(
            event.provider, event_type or event.event_type, status, event.received_at
        )


def reprocess(event_ids: Iterable[int]) -> int:
    """Put events back in the queue (admin action); events being processed are left alone."""
    ids = list(
        WebhookEvent.objects.filter(pk__in=list(event_ids))
        .exclude(status=S.PROCESSING)
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        WebhookEvent.objects.filter(pk__in=ids).update(
            status=S.RECEIVED, error="", next_attempt_at=None
        )
        for event_id in ids:
            transaction.on_commit(partial(enqueue, event_id), robust=True)
    return len(ids)


def redrive(limit: int = 500) -> int:
    """Enqueue events whose task was lost or worker died, and failures due for another try."""
    now = timezone.now()
    stuck = (
        EVENTS.claimable(now)
        .filter(
            Q(status=S.RECEIVED, received_at__lt=now - STUCK_AFTER)
            | Q(status=S.PROCESSING)
            | Q(status=S.FAILED, next_attempt_at__lte=now),
            attempts__lt=MAX_REDRIVES,
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    ids = list(stuck)
    for event_id in ids:
        enqueue(event_id)
    if ids:
        logger.warning("re-enqueued %d webhook events whose task was lost", len(ids))
    return len(ids)


def purge(retention_days: int) -> int:
    """Delete events received more than `retention_days` ago, in batches."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    deleted = 0
    while True:
        batch = list(
            WebhookEvent.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[
                :PURGE_BATCH
            ]
        )
        if not batch:
            return deleted
        deleted += WebhookEvent.objects.filter(pk__in=batch).delete()[0]
