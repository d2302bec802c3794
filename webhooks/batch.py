"""Batched processing of stored events (DESIGN.md "Webhooks in"): claim, normalize, apply in bulk.

A worker claims up to a few hundred `received` events in one work-queue statement, normalizes
them, and applies them with bulk statements in one transaction that also records their outcome
(webhooks/dispatch.py `dispatch_many`). An event that cannot be normalized is marked on its own
without touching the others; if the batch's transaction fails, each event of it is processed on
its own (processing.run), so one poisoned event fails alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from instances.models import Number
from providers.events import EventType, ProviderEvent
from whatsapp_saas.workqueue import Lease, LeaseLost

from . import processing
from .dispatch import dispatch_many, handles
from .models import WebhookEvent

logger = logging.getLogger(__name__)
S = WebhookEvent.Status
BATCH_SIZE = 250


@dataclass
class Item:
    """One claimed event on its way: its normalized events and, once known, its outcome."""

    event: WebhookEvent
    events: list[ProviderEvent] = field(default_factory=list)
    status: str = ""
    event_type: str = ""
    error: str = ""
    retry: int | None = None


def process_batch(size: int = BATCH_SIZE) -> int:
    """Claim up to `size` received events, oldest first, and process them; how many were claimed."""
    lease = processing.EVENTS.claim(
        size,
        where=Q(status=S.RECEIVED),
        status=S.PROCESSING,
        claimed_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    if lease is None:
        return 0
    items = [prepare(event) for event in claimed(lease)]
    settled = [item for item in items if item.status]
    ready = [item for item in items if not item.status]
    try:
        with transaction.atomic():
            apply(ready)
            # The outcome is written fenced in the same transaction: a lost lease undoes it all.
            if record(lease, ready) < len(ready):
                raise LeaseLost(f"lease {lease.token} on webhook events was lost")
    except LeaseLost:
        logger.warning("lost the lease of %d webhook events; another worker has them", len(ready))
        return len(items)
    except Exception:
        logger.warning("a batch of %d events failed; one by one now", len(ready), exc_info=True)
        alone(lease, ready)
    record(lease, settled)
    return len(items)


def claimed(lease: Lease[WebhookEvent]) -> list[WebhookEvent]:
    """The claimed events in arrival order, with their numbers."""
    fields = ("provider", "number_id", "body", "event_type", "attempts", "received_at")
    events = list(lease.rows().only(*fields).order_by("received_at", "pk"))
    share_numbers(events)
    return events


def share_numbers(events: list[WebhookEvent]) -> None:
    """Load each number once and give every event of it that one object.

    Services update the object they are given, so the next event of a number sees the change.
    """
    numbers = Number.objects.in_bulk({e.number_id for e in events if e.number_id is not None})
    for event in events:
        event.number = numbers.get(event.number_id) if event.number_id is not None else None


def prepare(event: WebhookEvent) -> Item:
    """Normalize one event; an event with nothing to apply gets its outcome at once."""
    item = Item(event)
    try:
        item.events = processing.normalize(event)
    except processing.Invalid as exc:
        item.status, item.event_type, item.error = S.INVALID, EventType.INVALID, str(exc)
    except processing.Unprocessable as exc:
        item.status, item.error = S.FAILED, str(exc)
    except Exception:
        logger.exception("webhook event %s could not be normalized", event.pk)
        item.status, item.error, item.retry = S.FAILED, processing.failure(), event.attempts
    else:
        item.event_type = str(item.events[0].type) if item.events else ""
        if not processing.applies_to(event.number):
            item.status = S.IGNORED
    return item


def apply(items: list[Item]) -> None:
    """Apply the items' events in bulk and set each item's outcome."""
    pairs: list[tuple[Number, ProviderEvent]] = []
    for item in items:
        number = item.event.number
        assert number is not None  # noqa: S101 — prepare() ignored events without a number
        handled = [e for e in item.events if handles(e)]
        pairs += [(number, e) for e in handled]
        item.status = S.PROCESSED if handled else S.IGNORED
    dispatch_many(pairs)


def alone(lease: Lease[WebhookEvent], items: list[Item]) -> None:
    """Process each item on its own: the failing one is marked failed, the others applied."""
    # The rolled-back batch may have changed the shared numbers in memory: read them again.
    share_numbers([item.event for item in items])
    for item in items:
        try:
            processing.run(lease, item.event)
        except DatabaseError:
            logger.exception("webhook event %s: database error, retried later", item.event.pk)
        except Exception:
            logger.exception("webhook event %s failed", item.event.pk)


def record(lease: Lease[WebhookEvent], items: list[Item]) -> int:
    """Record the items' outcomes: one fenced statement per distinct outcome; rows written."""
    groups: dict[tuple[str, str, str, int | None], list[WebhookEvent]] = {}
    for item in items:
        key = (item.status, item.event_type, item.error, item.retry)
        groups.setdefault(key, []).append(item.event)
    return sum(
        processing.finish(lease, events, status, event_type=event_type, error=error, retry=retry)
        for (status, event_type, error, retry), events in groups.items()
    )
