"""The only code that changes endpoints and deliveries: register, edit, delete, queue, redeliver."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from tenants.models import Tenant
from whatsapp_saas.netguard import check_url

from . import claims
from .models import EVENT_TYPES, PING, Delivery, Endpoint


def checked_url(url: str) -> str:
    """The URL if we may call it: a public https:// address (URLNotAllowed otherwise)."""
    check_url(url, https_only=True)
    return url


def event_types_in_order(event_types: Iterable[str]) -> list[str]:
    """Each known type once, in a stable order."""
    wanted = set(event_types)
    return [t for t in EVENT_TYPES if t in wanted]


def register_endpoint(
    tenant: Tenant, url: str, event_types: Iterable[str] = EVENT_TYPES, is_active: bool = True
) -> Endpoint:
    """A new endpoint with a fresh `whsec_` secret; URLNotAllowed for an address we won't call."""
    return Endpoint.objects.create(
        tenant=tenant,
        url=checked_url(url),
        event_types=event_types_in_order(event_types),
        is_active=is_active,
    )


def save_endpoint(endpoint: Endpoint) -> Endpoint:
    """Save an endpoint edited by an operator, with the same URL rule as registration."""
    checked_url(endpoint.url)
    endpoint.event_types = event_types_in_order(endpoint.event_types)
    endpoint.save()
    return endpoint


def delete_endpoint(endpoint: Endpoint) -> None:
    """Remove an endpoint and, with it, its deliveries and their attempts."""
    endpoint.delete()


def subscribed(tenant_ids: Iterable[Any], event_type: str) -> dict[Any, list[Endpoint]]:
    """Active endpoints of these tenants subscribed to this type, by tenant (one query)."""
    rows = Endpoint.objects.filter(
        tenant_id__in=set(tenant_ids), is_active=True, event_types__contains=[event_type]
    )
    found: dict[Any, list[Endpoint]] = {}
    for endpoint in rows:
        found.setdefault(endpoint.tenant_id, []).append(endpoint)
    return found


def body(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks body: {"type", "timestamp", "data"}."""
    return {"type": event_type, "timestamp": timezone.now().isoformat(), "data": dict(data)}


def queue(
    endpoints: Iterable[Endpoint], event_type: str, data: Mapping[str, Any]
) -> list[Delivery]:
    """One delivery of one event per endpoint (one event id for all), sent after commit."""
    payload, event_id = body(event_type, data), uuid.uuid4()
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                endpoint=endpoint,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                next_attempt_at=now,
            )
            for endpoint in endpoints
        ]
    )
    claims.enqueue_on_commit([d.pk for d in deliveries])
    return deliveries


def ping(endpoint: Endpoint) -> Delivery:
    """A `ping` event to one endpoint, whatever it subscribes to."""
    return queue([endpoint], PING, {"endpoint": str(endpoint.pk)})[0]


def redeliver(deliveries: Iterable[Delivery]) -> int:
    """Send these deliveries again from a fresh attempt count (operators' admin action)."""
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        # Ending any lease fences out a worker still posting the old try: its outcome is dropped.
        count = Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            delivered_at=None,
            last_error="",
            lease_token=None,
            leased_until=None,
        )
        claims.enqueue_on_commit(ids)
    return count


def sweep() -> int:
    """Wake workers for due pending deliveries whose wake-up was lost."""
    ids = claims.due(timezone.now())
    for delivery_id in ids:
        claims.enqueue(delivery_id)
    return len(ids)


def purge(retention_days: int) -> int:
    """Delete delivered and failed deliveries older than `retention_days`; pending ones stay."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    finished = Delivery.objects.filter(created_at__lt=cutoff).exclude(
        status=Delivery.Status.PENDING
    )
    return finished.delete()[1].get(Delivery._meta.label, 0)
