"""Tell tenants' endpoints about messages: every status writer and the inbound path call these."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from webhooks import outbound

from .models import Message


def data_of(message: Message) -> dict[str, Any]:
    """The API.md message object."""
    from .api.serializers import MessageSerializer

    return dict(MessageSerializer(message).data)


def status_changed(messages: QuerySet[Message] | Iterable[Message]) -> None:
    """Emit `message.status` for messages whose status has just changed (re-read from the rows)."""
    announce(messages, outbound.MESSAGE_STATUS)


def received(message: Message) -> None:
    """Emit `message.received` for a message recorded for the first time."""
    announce([message], outbound.MESSAGE_RECEIVED)


def updated(messages: Iterable[Message]) -> None:
    """Emit `message.updated` after an edit, deletion, reaction or a change of its media."""
    announce(messages, outbound.MESSAGE_UPDATED)


def updated_by_id(message_id: Any) -> None:
    """`updated` for one message known by its id (after a commit, from a task)."""
    announce(Message.objects.filter(pk=message_id), outbound.MESSAGE_UPDATED)


def announce(messages: QuerySet[Message] | Iterable[Message], event_type: str) -> None:
    """One event per message, skipping tenants that have no endpoint for it (bulk cancels).

    On the send and receipt paths most tenants have no endpoint: that case costs one query.
    """
    if isinstance(messages, QuerySet):
        pairs = list(messages.values_list("pk", "tenant_id"))
    else:
        pairs = [(m.pk, m.tenant_id) for m in messages]
    tenants = (
        outbound.subscribed_tenants({tenant for _, tenant in pairs}, event_type) if pairs else set()
    )
    if not tenants:
        return
    ids = [pk for pk, tenant in pairs if tenant in tenants]
    for message in Message.objects.filter(pk__in=ids).order_by("created_at").iterator():
        outbound.emit(message.tenant_id, event_type, data_of(message))
