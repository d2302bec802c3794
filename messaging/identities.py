"""One person, one contact: a phone and a WhatsApp LID seen apart are merged once both show up.

Baileys 7 addresses a chat by phone or by LID and puts the other identity in the alt JID
(reference 1.6); until a message carries both, the same person can reach us as two contacts.
The first event that reveals both merges them: the LID contact's conversations and messages move
to the phone contact (conversations of the same number become one), and nothing is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest

from .models import Contact, Conversation, Message

logger = logging.getLogger(__name__)


def merge_if_split(tenant_id: Any, phone: str, lid: str) -> Contact | None:
    """The one contact of this phone and LID, merging two when each holds one; None if none does."""
    with transaction.atomic():
        found = _holders(tenant_id, phone, lid)
        by_phone = next((c for c in found if c.phone == phone), None)
        by_lid = next((c for c in found if c.lid == lid), None)
        if by_phone is None or by_lid is None:
            return None
        if by_phone.pk == by_lid.pk:
            return by_phone
        return merge(keep=by_phone, other=by_lid)


def _holders(tenant_id: Any, phone: str, lid: str) -> list[Contact]:
    """The contacts holding the phone or the LID, locked, in a stable order."""
    holders = Contact.objects.filter(tenant_id=tenant_id, is_group=False, phone=phone) | (
        Contact.objects.filter(tenant_id=tenant_id, is_group=False, lid=lid)
    )
    return list(holders.select_for_update().order_by("pk"))


def merge(*, keep: Contact, other: Contact) -> Contact:
    """Move everything of `other` to `keep`, take its identifiers where `keep` lacks them."""
    for conversation in Conversation.objects.select_for_update().filter(contact=other):
        into = Conversation.objects.filter(number_id=conversation.number_id, contact=keep).first()
        if into is None:
            Conversation.objects.filter(pk=conversation.pk).update(contact=keep)
            continue
        moved = Message.objects.filter(conversation=conversation).update(conversation=into)
        Conversation.objects.filter(pk=into.pk).update(
            unread_count=F("unread_count") + conversation.unread_count,
            last_message_at=Greatest(F("last_message_at"), conversation.last_message_at)
            if conversation.last_message_at
            else F("last_message_at"),
        )
        conversation.delete()
        logger.info("merged conversation %s into %s (%d messages)", conversation.pk, into.pk, moved)
    taken = {
        name: getattr(other, name)
        for name in ("phone", "lid", "jid", "name")
        if getattr(other, name) and not getattr(keep, name)
    }
    other.delete()
    for name, value in taken.items():
        setattr(keep, name, value)
    if taken:
        keep.save(update_fields=[*taken, "updated_at"])
    logger.info("merged contact %s into %s", other.pk, keep.pk)
    return keep
