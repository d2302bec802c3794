"""Figures read from our own tables and Redis, never a provider: for the scrape and the health page.

Each work queue's rows are its jobs (DESIGN.md section 4), so its depth and the age of its oldest
due row come from one indexed aggregate, whatever wakes the workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.db.models import Count, F, Min, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from instances.models import Number
from messaging.models import Message
from notifications.models import Delivery
from providers.events import ConnectionStatus
from providers.http import get_breaker
from providers.registry import PROVIDERS, config_from_settings
from webhooks.models import WebhookEvent

BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}


@dataclass(frozen=True)
class QueueFigure:
    """One work queue: rows due now, and how long the oldest of them has waited."""

    queue: str
    depth: int
    oldest_due_seconds: float


def due_sends(now: datetime) -> QuerySet[Message]:
    """Queued outbound messages due now whose number can send (a disconnected one waits)."""
    return Message.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status=Message.Status.QUEUED,
        direction=Message.Direction.OUTBOUND,
        number__status=ConnectionStatus.CONNECTED,
    ).annotate(due=Coalesce(F("next_attempt_at"), F("created_at")))


def unprocessed_events(now: datetime) -> QuerySet[WebhookEvent]:
    """Stored provider events not processed yet (waiting or being processed)."""
    statuses = [WebhookEvent.Status.RECEIVED, WebhookEvent.Status.PROCESSING]
    return WebhookEvent.objects.filter(status__in=statuses).annotate(due=F("received_at"))


def due_deliveries(now: datetime) -> QuerySet[Delivery]:
    """Deliveries to tenants' endpoints due now."""
    return Delivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status=Delivery.Status.PENDING,
    ).annotate(due=Coalesce(F("next_attempt_at"), F("created_at")))


QUEUES = {"send": due_sends, "events": unprocessed_events, "notify": due_deliveries}


def queues() -> list[QueueFigure]:
    """Depth and oldest due age of every work queue: one aggregate query each."""
    now = timezone.now()
    figures = []
    for name, rows in QUEUES.items():
        found = rows(now).aggregate(depth=Count("pk"), oldest=Min("due"))
        oldest = found["oldest"]
        age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        figures.append(QueueFigure(name, found["depth"], age))
    return figures


def numbers_by_status() -> dict[tuple[str, str], int]:
    """Live numbers per (provider, status), every pair present (0 where none)."""
    counts = {(p, s.value): 0 for p in PROVIDERS for s in ConnectionStatus}
    rows = Number.objects.live().values_list("provider", "status").annotate(n=Count("*"))
    for provider, status, n in rows.order_by():
        counts[(provider, status)] = n
    return counts


def breaker_hosts() -> list[tuple[str, str]]:
    """(provider, base URL) of every provider host we call: the configured ones, GreenAPI pools."""
    hosts = {(name, config_from_settings(name).base_url) for name in PROVIDERS}
    pools = (
        Number.objects.exclude(provider_api_url="")
        .values_list("provider", "provider_api_url")
        .order_by()
        .distinct()
    )
    hosts.update((provider, url) for provider, url in pools if provider in PROVIDERS)
    return sorted(hosts)


def breakers() -> list[tuple[str, str, str]]:
    """(provider, host, state) of every provider host's shared circuit breaker."""
    found = []
    for provider, url in breaker_hosts():
        state = get_breaker(provider, url, config_from_settings(provider)).state
        found.append((provider, urlsplit(url).netloc or url, state))
    return found


def redis_ok() -> bool:
    """Whether Redis answers (the health page says so rather than showing zeros silently)."""
    from .health import check_redis

    try:
        return check_redis() == "ok"
    except Exception:  # any failure means "not answering"; the page shows it
        return False
