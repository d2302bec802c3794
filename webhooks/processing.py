"""Process stored events: claim, normalize, dispatch, record the outcome; redrive and purge."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from providers.events import EventType, InvalidEvent

from .dispatch import dispatch
from .ingest import enqueue
from .models import WebhookEvent
from .normalizers import get_normalizer

logger = logging.getLogger(__name__)
S = WebhookEvent.Status

# A claim older than this belongs to a worker that died (longer than CELERY_TASK_TIME_LIMIT).
LEASE = timedelta(minutes=10)
# Events still `received` after this lost their task (crash between store and enqueue).
STUCK_AFTER = timedelta(minutes=1)
MAX_REDRIVES = 10
PURGE_BATCH = 5000


class Unprocessable(Exception):
    """An event no retry can help: kept as failed for an operator."""


class Invalid(Unprocessable):
    """A payload its provider cannot have sent: kept as invalid, never applied nor retried."""


def claim(event_id: int) -> bool:
    """Take the event for this worker with one conditional UPDATE; False when someone else has it."""
    now = timezone.now()
    claimable = Q(status__in=[S.RECEIVED, S.FAILED]) | Q(
        status=S.PROCESSING, claimed_at__lt=now - LEASE
    )
    taken = WebhookEvent.objects.filter(claimable, pk=event_id).update(
        status=S.PROCESSING, claimed_at=now, attempts=F("attempts") + 1
    )
    return taken == 1


def process(event_id: int) -> str:
    """Process one event once; returns its new status, or "skipped" when it was not claimable."""
    if not claim(event_id):
        return "skipped"
    event = WebhookEvent.objects.select_related("number").get(pk=event_id)
    try:
        with transaction.atomic():
            status, event_type = handle(event)
    except Invalid as exc:
        finish(event_id, S.INVALID, event_type=EventType.INVALID, error=str(exc))
        return S.INVALID
    except Unprocessable as exc:
        finish(event_id, S.FAILED, error=str(exc))
        return S.FAILED
    except Exception:
        # Visible in the admin; the task retries what a retry can fix (database errors).
        finish(event_id, S.FAILED, error=traceback.format_exc(limit=8)[-4000:])
        raise
    finish(event_id, status, event_type=event_type)
    return status


def handle(event: WebhookEvent) -> tuple[str, str]:
    """Normalize and dispatch; (status, normalized type of the first event)."""
    payload = event.payload()
    if not isinstance(payload, Mapping):
        raise Unprocessable("The body is not a JSON object.")
    events = get_normalizer(event.provider).normalize(payload)
    invalid = [e.reason for e in events if isinstance(e, InvalidEvent)]
    if invalid:
        raise Invalid(invalid[0])
    event_type = str(events[0].type) if events else ""
    number = event.number
    if number is None or number.deletion_requested_at is not None:
        return S.IGNORED, event_type
    return (S.PROCESSED if dispatch(number, events) else S.IGNORED), event_type


def finish(event_id: int, status: str, *, event_type: str = "", error: str = "") -> None:
    """Record the outcome; if even that fails, the lease lets the event be taken again."""
    fields: dict[str, object] = {"status": status, "error": error}
    if event_type:
        fields["event_type"] = event_type
    if status != S.FAILED:
        fields["processed_at"] = timezone.now()
    try:
        WebhookEvent.objects.filter(pk=event_id).update(**fields)
    except DatabaseError:
        logger.exception("could not record the outcome of webhook event %s", event_id)


def reprocess(event_ids: Iterable[int]) -> int:
    """Put events back in the queue (admin action); events being processed are left alone."""
    ids = list(
        WebhookEvent.objects.filter(pk__in=list(event_ids))
        .exclude(status=S.PROCESSING)
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        WebhookEvent.objects.filter(pk__in=ids).update(status=S.RECEIVED, error="")
        for event_id in ids:
            transaction.on_commit(lambda event_id=event_id: enqueue(event_id), robust=True)
    return len(ids)


def redrive(limit: int = 500) -> int:
    """Enqueue events whose task was lost: still `received`, or claimed by a worker that died."""
    now = timezone.now()
    stuck = (
        WebhookEvent.objects.filter(
            Q(status=S.RECEIVED, received_at__lt=now - STUCK_AFTER)
            | Q(status=S.PROCESSING, claimed_at__lt=now - LEASE),
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
