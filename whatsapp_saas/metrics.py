"""Prometheus metrics: the counters every process records, and the `/metrics` scrape view.

Counters and histograms live in prometheus-client's multiprocess files when
PROMETHEUS_MULTIPROC_DIR is set (gunicorn workers, Celery workers and the local run share one
folder; the scrape sums them). Figures the database already holds (numbers by status, queue depth
and age, breaker state) are read at scrape time by `whatsapp_saas.scrape`, so they are right
whatever process changed them. Every label value is drawn from a closed set: no message, phone or
number ids, so the series count stays bounded.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import socket
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import Metric

from providers.events import ConnectionStatus, EventType, StateReason
from providers.registry import PROVIDERS

from . import stats

logger = logging.getLogger(__name__)

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
# Containers sharing the folder have their own pid namespaces: the host name keeps files apart.
PROCESS_ID = re.sub(r"[^A-Za-z0-9.\-]", "-", socket.gethostname()) or "host"
if MULTIPROC_DIR:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)
    values.ValueClass = values.MultiProcessValue(lambda: f"{PROCESS_ID}-{os.getpid()}")

FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 21600)
SCAN = (5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 600)

HTTP_REQUESTS = Counter(
    "wa_http_requests", "HTTP requests answered, by route pattern", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "wa_http_request_duration_seconds",
    "Time to answer a request",
    ["method", "route"],
    buckets=FAST,
)
WEBHOOKS = Counter(
    "wa_webhook_deliveries", "Provider webhook deliveries by outcome", ["provider", "outcome"]
)
WEBHOOK_ACK_SECONDS = Histogram(
    "wa_webhook_ack_seconds", "Time to acknowledge a provider webhook", ["provider"], buckets=FAST
)
EVENTS = Counter(
    "wa_webhook_events_processed",
    "Stored provider events processed, by type and outcome",
    ["provider", "event_type", "outcome"],
)
EVENT_LAG = Histogram(
    "wa_webhook_event_lag_seconds",
    "From receipt of a provider event to its effect applied",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
SENDS = Counter("wa_sends", "Provider send calls by outcome", ["provider", "outcome"])
DUPLICATES_PREVENTED = Counter(
    "wa_send_duplicates_prevented",
    "In-flight sends found at the provider instead of sent again",
    ["provider"],
)
PACING_WAITS = Counter("wa_send_pacing_waits", "Sends that waited for the rate limit", ["provider"])
PACING_SECONDS = Histogram(
    "wa_send_pacing_wait_seconds",
    "How long a send waited for its number's rate limit",
    ["provider"],
    buckets=(0.1, 0.5, 1, 2, 3, 5, 10, 30, 60, 300),
)
QR_SCAN_SECONDS = Histogram(
    "wa_qr_scan_seconds", "From QR shown to number connected", ["provider"], buckets=SCAN
)
DISCONNECTS = Counter(
    "wa_number_disconnects", "Connected numbers that lost their connection", ["provider", "reason"]
)
TENANT_DELIVERIES = Counter(
    "wa_tenant_webhook_deliveries", "Deliveries to tenants' webhook endpoints", ["outcome"]
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WEBHOOK_OUTCOMES = {
    "accepted": "accepted",
    "duplicate": "duplicate",
    "refused": "refused",
    "forbidden": "refused",
    "unknown_token": "unknown_token",
    "invalid": "invalid",
    "malformed": "invalid",
    "too_large": "too_large",
}
EVENT_OUTCOMES = frozenset({"processed", "ignored", "invalid", "failed"})
EVENT_TYPES = frozenset(t.value for t in EventType)
SEND_OUTCOMES = frozenset({"sent", "retry", "failed", "rate_limited", "circuit_open"})
DELIVERY_OUTCOMES = frozenset({"delivered", "retry", "failed"})
REASONS = frozenset(r.value for r in StateReason) | {"not_found", "provider_error"}


def one_of(value: str, allowed: Iterable[str]) -> str:
    """`value` when it is in the closed set, else "other" (labels never take free text)."""
    return value if value in allowed else "other"


def provider_label(provider: str) -> str:
    """A provider name from the registry, else "other" (the webhook URL is caller-controlled)."""
    return one_of(provider, PROVIDERS)


# ------------------------------------------------------------------ what the code records


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request; `route` is the URL pattern (never the path with its ids)."""
    method = one_of(method, METHODS)
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_SECONDS.labels(method, route).observe(seconds)


@cache
def webhook_series(provider: str, outcome: str) -> tuple[Any, Any, str]:
    """The counter and histogram children of one (provider, outcome), looked up once.

    The ack path is the hottest one: `labels()` takes a lock and validates every call, and the
    children it returns are the same objects each time (the label sets are closed, so is this).
    """
    label = WEBHOOK_OUTCOMES.get(outcome, "other")
    provider = provider_label(provider)
    return WEBHOOKS.labels(provider, label), WEBHOOK_ACK_SECONDS.labels(provider), label


def webhook_received(provider: str, outcome: str, seconds: float) -> None:
    """One provider webhook answered: accepted, duplicate, refused, unknown_token or invalid."""
    count, ack, outcome = webhook_series(provider, outcome)
    count.inc()
    ack.observe(seconds)
    if outcome in stats.WEBHOOK_OUTCOMES:
        # Nothing is stored for these, so the health page reads them from Redis minute counts.
        stats.count(f"webhook_{outcome}")


def event_processed(
    provider: str, event_type: str, outcome: str, received_at: datetime | None = None
) -> None:
    """A stored provider event processed (or ignored, or failed) and, if given, its lag."""
    provider = provider_label(provider)
    EVENTS.labels(provider, one_of(event_type, EVENT_TYPES), one_of(outcome, EVENT_OUTCOMES)).inc()
    if received_at is not None and outcome != "failed":
        EVENT_LAG.labels(provider).observe(max(0.0, (timezone.now() - received_at).total_seconds()))


def send_outcome(provider: str, outcome: str) -> None:
    """One provider send call: sent, retry, failed (also rate_limited, circuit_open)."""
    SENDS.labels(provider_label(provider), one_of(outcome, SEND_OUTCOMES)).inc()


def duplicate_prevented(provider: str) -> None:
    """An in-flight send was found at the provider, so it was not sent a second time."""
    DUPLICATES_PREVENTED.labels(provider_label(provider)).inc()


def pacing_wait(provider: str, seconds: float) -> None:
    """A send waited `seconds` for its number's rate limiter."""
    provider = provider_label(provider)
    PACING_WAITS.labels(provider).inc()
    PACING_SECONDS.labels(provider).observe(seconds)


def tenant_delivery(outcome: str) -> None:
    """One try at a tenant's endpoint: delivered, retry or failed (given up)."""
    TENANT_DELIVERIES.labels(one_of(outcome, DELIVERY_OUTCOMES)).inc()


def status_changed(
    provider: str, previous: str, status: str, reason: str, scan_started: datetime | None
) -> None:
    """A number changed status: count a lost connection, time a completed scan."""
    provider = provider_label(provider)
    connected = ConnectionStatus.CONNECTED
    if previous == connected and status != connected:
        DISCONNECTS.labels(provider, one_of(reason, REASONS)).inc()
    if previous == ConnectionStatus.QR_PENDING and status == connected and scan_started:
        seconds = (timezone.now() - scan_started).total_seconds()
        QR_SCAN_SECONDS.labels(provider).observe(max(0.0, seconds))


# ------------------------------------------------------------------ the scrape


def registry() -> CollectorRegistry:
    """What a scrape reads: every process's files (multiprocess mode) or this process's."""
    from .scrape import DatabaseCollector

    if MULTIPROC_DIR:
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected, MULTIPROC_DIR)
    else:
        collected = CollectorRegistry()
        collected.register(_Forward(REGISTRY))
    collected.register(DatabaseCollector())
    return collected


class _Forward:
    """This process's default registry as one collector of the scrape registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        """Everything the default registry holds."""
        return self.source.collect()


def authorized(request: HttpRequest) -> bool:
    """METRICS_TOKEN is set and presented as a bearer token (compared in constant time)."""
    token = settings.METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.encode(), token.encode())
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: 404 unless METRICS_TOKEN is set and presented (a wrong token is 404 too)."""
    if request.method != "GET" or not authorized(request):
        return HttpResponseNotFound("Not found\n", content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
