"""Our normalized events to tenants' endpoints: emit, sign, deliver, retry (DESIGN.md section 1)."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from whatsapp_saas import workqueue

from .auth import SIGNATURE_HEADER, signature_header
from .models import EVENT_TYPES, Delivery, Endpoint

logger = logging.getLogger(__name__)

MESSAGE_STATUS, MESSAGE_RECEIVED, NUMBER_STATUS = EVENT_TYPES
PING = "ping"
TIMEOUT = 10.0
MAX_ATTEMPTS = 8
FIRST_DELAY, MAX_DELAY = 10.0, 3600.0
# A claim holds a delivery this long; it outlasts the request, so two workers never both post it.
LEASE = timedelta(seconds=TIMEOUT + 20)
DELIVERIES = workqueue.WorkQueue(
    Delivery,
    lease=lambda: LEASE,
    ready=Q(status=Delivery.Status.PENDING),
    order=("next_attempt_at",),
)
SWEEP_BATCH = 500
USER_AGENT = "whatsapp-saas-webhooks/1"


def validate_url(url: str) -> None:
    """HTTPS only; plain HTTP when DEBUG, or to 127.0.0.1 when tests allow it."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    local = parts.hostname == "127.0.0.1" and settings.OUTBOUND_WEBHOOKS_ALLOW_LOCAL_HTTP
    if parts.scheme == "http" and parts.hostname and (settings.DEBUG or local):
        return
    raise ValidationError("The URL must start with https://.")


def subscribed_tenants(tenant_ids: Iterable[Any], event_type: str) -> set[Any]:
    """Which of these tenants have an active endpoint for this event type (one query)."""
    rows = Endpoint.objects.filter(
        tenant_id__in=set(tenant_ids), is_active=True, event_types__contains=[event_type]
    )
    return set(rows.values_list("tenant_id", flat=True))


def event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The envelope every endpoint receives: the same event id for every endpoint."""
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }


def emit(tenant_id: Any, event_type: str, payload: dict[str, Any]) -> list[Delivery]:
    """One delivery per active endpoint of the tenant subscribed to this type, sent after commit."""
    endpoints = Endpoint.objects.filter(
        tenant_id=tenant_id, is_active=True, event_types__contains=[event_type]
    )
    return queue(endpoints, event(event_type, payload))


def queue(endpoints: Iterable[Endpoint], envelope: dict[str, Any]) -> list[Delivery]:
    """Store deliveries of one event and enqueue them once the transaction commits."""
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                endpoint=endpoint,
                event_type=envelope["type"],
                payload=envelope,
                next_attempt_at=now,
            )
            for endpoint in endpoints
        ]
    )
    for delivery in deliveries:
        transaction.on_commit(partial(enqueue, str(delivery.pk)), robust=True)
    return deliveries


def ping(endpoint: Endpoint) -> Delivery:
    """A `ping` event to one endpoint, whatever it subscribes to."""
    return queue([endpoint], event(PING, {"endpoint": str(endpoint.pk)}))[0]


def enqueue(delivery_id: str, countdown: float | None = None) -> None:
    """Hand a delivery to a worker (the sweep re-enqueues it if this is lost)."""
    from .tasks import deliver

    if countdown:
        deliver.apply_async((delivery_id,), countdown=countdown)
    else:
        deliver.apply_async((delivery_id,))


def body_of(delivery: Delivery) -> bytes:
    """The exact bytes posted (and signed)."""
    return json.dumps(delivery.payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def headers_for(delivery: Delivery, body: bytes) -> dict[str, str]:
    """Signature, ids and type; receivers dedupe on X-Webhook-Id."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(delivery.endpoint.secret, body),
        "X-Webhook-Id": str(delivery.pk),
        "X-Webhook-Event": delivery.event_type,
    }


def backoff(attempts: int) -> float:
    """Seconds before the next try: the work queue's backoff from 10 s, capped at 1 h."""
    return workqueue.backoff(attempts, FIRST_DELAY, MAX_DELAY)


def deliver(delivery_id: str) -> str:
    """Post one delivery once; record delivered, a retry, or failed after MAX_ATTEMPTS."""
    lease = DELIVERIES.take(delivery_id)
    if lease is None:
        return "skipped"
    delivery = lease.rows().select_related("endpoint").get()
    code, error = post(delivery)
    now, attempts = timezone.now(), delivery.attempts + 1
    common = {"attempts": attempts, "last_response_code": code, "last_error": error[:2000]}
    if not error:
        lease.finish(
            status=Delivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None, **common
        )
        return "delivered"
    if attempts >= MAX_ATTEMPTS or not delivery.endpoint.is_active:
        lease.finish(status=Delivery.Status.FAILED, next_attempt_at=None, **common)
        logger.info("webhook delivery %s failed for good: %s", delivery.pk, error)
        return "failed"
    delay = backoff(attempts)
    if lease.finish(next_attempt_at=now + timedelta(seconds=delay), **common):
        enqueue(str(delivery.pk), delay)
    return "retry"


def post(delivery: Delivery) -> tuple[int | None, str]:
    """(status code, error) of one POST; error is "" on a 2xx answer."""
    if not delivery.endpoint.is_active:
        return None, "endpoint disabled"
    blocked = blocked_address(urlsplit(delivery.endpoint.url).hostname or "")
    if blocked:
        return None, blocked
    body = body_of(delivery)
    try:
        # Redirects are not followed: a signed body must not be replayed to another host.
        response = requests.post(
            delivery.endpoint.url,
            data=body,
            headers=headers_for(delivery, body),
            timeout=TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}"


def blocked_address(host: str) -> str:
    """Why a tenant's URL may not be called ("" when it may): no internal or reserved addresses.

    Tenants choose these URLs, so without this check they could make our workers call services
    inside our network. (A DNS answer that changes between this check and the request is not
    covered; a proxy that enforces egress rules is the stronger guard.)
    """
    if settings.DEBUG or settings.OUTBOUND_WEBHOOKS_ALLOW_LOCAL_HTTP:
        return ""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return f"{host} resolves to a non-public address ({ip}); refused"
    return ""


def sweep(now: datetime | None = None) -> int:
    """Re-enqueue due pending deliveries whose task was lost (or whose worker died)."""
    due = (
        DELIVERIES.claimable(now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    ids = [str(pk) for pk in due]
    for delivery_id in ids:
        enqueue(delivery_id)
    return len(ids)


def redeliver(deliveries: Iterable[Delivery]) -> int:
    """Send these deliveries again from a fresh attempt count (operators' admin action)."""
    ids = [d.pk for d in deliveries]
    count = Delivery.objects.filter(pk__in=ids).update(
        status=Delivery.Status.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        delivered_at=None,
        last_error="",
    )
    for pk in ids:
        transaction.on_commit(partial(enqueue, str(pk)), robust=True)
    return count


def purge(retention_days: int) -> int:
    """Delete delivered and failed deliveries older than `retention_days`; pending ones stay."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    return (
        Delivery.objects.filter(created_at__lt=cutoff)
        .exclude(status=Delivery.Status.PENDING)
        .delete()[0]
    )
