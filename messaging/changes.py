"""Edits, deletions and reactions: they change an earlier message's content, never its status.

None of them is a message of its own, raises an unread count or moves a status (DESIGN.md
section 4 "State"). One that arrives before its message (concurrent deliveries overtake each
other, reference 1.9) is kept as a PendingChange and applied when the message is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from instances.models import Number
from providers.base import jid_digits
from providers.events import ChangeKind, MessageChanged

from . import events
from .models import Message, PendingChange

PENDING_CHANGE_TTL = timedelta(days=7)
PHONE_SUFFIXES = ("@s.whatsapp.net", "@c.us")


def apply_change(number: Number, event: MessageChanged) -> Message | None:
    """Apply one change to the message it names, or keep it until that message arrives."""
    if not event.message_id:
        return None
    at = event.occurred_at or timezone.now()
    change = {"text": event.text, "from": changed_by(number, event)}
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(number=number, provider_message_id=event.message_id)
            .first()
        )
        if message is None:
            PendingChange.objects.create(
                number=number,
                provider_message_id=event.message_id,
                kind=event.change,
                change=change,
                occurred_at=at,
            )
            return None
        if change_message(message, ChangeKind(event.change), change, at):
            events.updated([message])
    return message


def apply_pending_changes(message: Message) -> int:
    """Apply the changes that arrived before this message, oldest first; call it on recording."""
    if not message.provider_message_id:
        return 0
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        pending = list(
            PendingChange.objects.select_for_update()
            .filter(number_id=locked.number_id, provider_message_id=locked.provider_message_id)
            .order_by("occurred_at", "pk")
        )
        changed = [
            change_message(locked, ChangeKind(p.kind), p.change, p.occurred_at or p.created_at)
            for p in pending
        ]
        PendingChange.objects.filter(pk__in=[p.pk for p in pending]).delete()
        if any(changed):
            events.updated([locked])
    message.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return len(pending)


def apply_pending_changes_many(messages: Iterable[Message]) -> int:
    """`apply_pending_changes` of new messages: one query finds the few that have any."""
    by_key = {(m.number_id, m.provider_message_id): m for m in messages if m.provider_message_id}
    if not by_key:
        return 0
    waiting = set(
        PendingChange.objects.filter(
            number_id__in={n for n, _ in by_key}, provider_message_id__in={p for _, p in by_key}
        ).values_list("number_id", "provider_message_id")
    )
    return sum(apply_pending_changes(m) for key, m in by_key.items() if key in waiting)


def change_message(
    message: Message, kind: ChangeKind, change: dict[str, Any], at: datetime
) -> bool:
    """Apply one change to a locked message; True when it changed (late, older ones do not)."""
    if kind is ChangeKind.DELETED:
        if message.deleted_at is not None:
            return False
        message.deleted_at = at
        message.save(update_fields=["deleted_at", "updated_at"])
        return True
    if kind is ChangeKind.EDITED:
        if message.deleted_at is not None or (message.edited_at and message.edited_at > at):
            return False
        field = "text" if message.type == Message.Type.TEXT or not message.caption else "caption"
        setattr(message, field, change.get("text", ""))
        message.edited_at = at
        message.save(update_fields=[field, "edited_at", "updated_at"])
        return True
    return react(message, str(change.get("from", "")), str(change.get("text", "")), at)


def react(message: Message, sender: str, emoji: str, at: datetime) -> bool:
    """One reaction per sender: a new emoji replaces theirs, an empty one takes it back."""
    reactions = list(message.reactions or [])
    mine = next((r for r in reactions if r.get("from") == sender), None)
    if mine is not None and str(mine.get("at", "")) > at.isoformat():
        return False
    reactions = [r for r in reactions if r.get("from") != sender]
    if emoji:
        reactions.append({"emoji": emoji, "from": sender, "at": at.isoformat()})
    if reactions == (message.reactions or []):
        return False
    message.reactions = reactions
    message.save(update_fields=["reactions", "updated_at"])
    return True


def changed_by(number: Number, event: MessageChanged) -> str:
    """Who made the change, as a message's `from` reads: the business's phone, digits, or a JID."""
    if event.from_me:
        return number.phone_number
    jid = event.sender or event.chat_id
    return jid_digits(jid) if jid.endswith(PHONE_SUFFIXES) else jid


def drop_stale_changes(max_age: timedelta = PENDING_CHANGE_TTL) -> int:
    """Forget changes whose message never appeared."""
    cutoff = timezone.now() - max_age
    deleted, _ = PendingChange.objects.filter(created_at__lt=cutoff).delete()
    return deleted
