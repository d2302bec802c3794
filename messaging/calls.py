"""Calls in their conversation: one entry per call, following its stages (offer, missed, …)."""

from __future__ import annotations

from django.utils import timezone

from instances.models import Number
from providers.events import CallReceived, MessageKind, MessageReceived

from . import events
from .models import Message
from .services import record_inbound

# Stages that come first; a late one of them never hides how the call ended.
OPENING = ("", "offer", "ringing")


def record_call(number: Number, event: CallReceived) -> Message:
    """The call's entry (recorded as an inbound message of type `call`), its status kept."""
    entry = record_inbound(
        number,
        MessageReceived(
            provider=event.provider,
            instance=event.instance,
            raw=event.raw,
            occurred_at=event.occurred_at,
            message_id=event.call_id,
            chat_id=event.chat_id,
            chat_alt=event.chat_alt,
            sender=event.chat_id,
            message_type=MessageKind.CALL,
            extra={"status": event.status, "is_video": event.is_video},
        ),
    )
    if event.status not in OPENING and entry.extra.get("status") != event.status:
        Message.objects.filter(pk=entry.pk).update(
            extra={**entry.extra, "status": event.status}, updated_at=timezone.now()
        )
        events.updated_by_id(entry.pk)
    return entry
