"""Message changes as domain events: every status writer and the inbound path call these."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from whatsapp_saas import domain_events as de

from .models import Message


def status_changed(messages: QuerySet[Message] | Iterable[Message]) -> None:
    """`message.status` for messages whose status has just changed."""
    announce(messages, de.MESSAGE_STATUS)


def received_many(messages: Iterable[Message]) -> None:
    """`message.received` for messages recorded for the first time."""
    announce(messages, de.MESSAGE_RECEIVED)


def updated(messages: Iterable[Message]) -> None:
    """`message.updated` after an edit, deletion or reaction, or a change of its media."""
    announce(messages, de.MESSAGE_UPDATED)


def updated_by_id(message_id: Any) -> None:
    """`updated` for one message known by its id (after a commit, from a task)."""
    announce(Message.objects.filter(pk=message_id), de.MESSAGE_UPDATED)


def announce(messages: QuerySet[Message] | Iterable[Message], event_type: str) -> None:
    """One event per message on commit: a copy of each row as written, or its id (bulk updates)."""
    if isinstance(messages, QuerySet):
        pairs = list(messages.values_list("pk", "tenant_id"))
        events = [de.DomainEvent(event_type, tenant, pk) for pk, tenant in pairs]
    else:
        events = [de.DomainEvent(event_type, m.tenant_id, copy.copy(m)) for m in messages]
    de.emit(*events)
