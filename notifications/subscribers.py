"""Domain events → deliveries: one per subscribed endpoint, with the API's view of the object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from instances.models import Number
from messaging.api.serializers import MessageSerializer
from messaging.models import Message
from whatsapp_saas.domain_events import NUMBER_STATUS, DomainEvent

from . import services


def on_domain_events(sender: Any, events: Sequence[DomainEvent], **kwargs: Any) -> None:
    """Queue deliveries for the events of one commit; tenants without an endpoint cost one query."""
    for event_type in dict.fromkeys(e.type for e in events):
        batch = [e for e in events if e.type == event_type]
        endpoints = services.subscribed((e.tenant_id for e in batch), event_type)
        wanted = [e for e in batch if e.tenant_id in endpoints]
        for event, data in zip(wanted, data_of(event_type, wanted), strict=True):
            if data is not None:
                services.queue(endpoints[event.tenant_id], event_type, data)


def data_of(event_type: str, events: Sequence[DomainEvent]) -> list[dict[str, Any] | None]:
    """The `data` of each event, in order: a number's status, or the API message object."""
    if event_type == NUMBER_STATUS:
        return [number_data(e.subject) for e in events]
    messages = messages_of([e.subject for e in events])
    return [None if m is None else dict(MessageSerializer(m).data) for m in messages]


def number_data(number: Number) -> dict[str, Any]:
    """`number.status` data: the number's id, new status, reason and phone."""
    return {
        "number": str(number.pk),
        "status": number.status,
        "reason": number.status_reason,
        "phone_number": number.phone_number,
    }


def messages_of(subjects: Sequence[Any]) -> list[Message | None]:
    """Messages as written; ids (from bulk updates) are read in one query (None if gone since)."""
    ids = [s for s in subjects if not isinstance(s, Message)]
    rows = Message.objects.in_bulk(ids) if ids else {}
    return [s if isinstance(s, Message) else rows.get(s) for s in subjects]
