"""Who a message is with: the chat's contact (by phone, LID or group JID) and the number's thread.

Each lookup has a bulk form for batched event processing; the one-event forms are bulk calls of
one where the rules allow, so both paths find, create and learn contacts the same way.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction

from instances.models import Number
from providers.base import jid_digits
from providers.events import MessageReceived

from . import identities
from .models import Contact, Conversation

logger = logging.getLogger(__name__)

PHONE_SUFFIXES = ("@s.whatsapp.net", "@c.us")


def contact_for(tenant_id: uuid.UUID | str, event: MessageReceived) -> Contact:
    """Find or create the chat's contact: by phone, then LID, then group JID; learn new ids."""
    phone, lid = identity(event)
    lookups = contact_lookups(event, phone, lid)
    if phone and lid:
        # Both identities at once: the contacts seen under each become one (identities.py).
        merged = identities.merge_if_split(tenant_id, phone, lid)
        if merged is not None:
            return learn(merged, name=shown_name(event), jid=phone_jid(event))
    for lookup in lookups:
        contact = Contact.objects.filter(tenant_id=tenant_id, **lookup).first()
        if contact is not None:
            return learn_from(contact, event)
    try:
        with transaction.atomic():
            return Contact.objects.create(tenant_id=tenant_id, **new_contact_fields(event))
    except IntegrityError:
        return Contact.objects.get(tenant_id=tenant_id, **lookups[0])


def contacts_for(chats: Sequence[tuple[Any, MessageReceived]]) -> list[Contact]:
    """`contact_for` of many (tenant, event) pairs, in order; chats known by phone alone in bulk."""
    found: list[Contact | None] = [None] * len(chats)
    by_phone: dict[tuple[Any, str], list[int]] = {}
    for i, (tenant_id, event) in enumerate(chats):
        phone, lid = identity(event)
        if phone and not lid:
            by_phone.setdefault((tenant_id, phone), []).append(i)
        else:
            found[i] = contact_for(tenant_id, event)
    if by_phone:
        known = phone_contacts(by_phone, chats)
        for key, indexes in by_phone.items():
            contact = known[key]
            for i in indexes:
                found[i] = contact = learn_from(contact, chats[i][1])
    return [c for c in found if c is not None]


def phone_contacts(
    wanted: dict[tuple[Any, str], list[int]], chats: Sequence[tuple[Any, MessageReceived]]
) -> dict[tuple[Any, str], Contact]:
    """The contacts of these (tenant, phone) keys, the missing ones created in one statement."""

    def load() -> dict[tuple[Any, str], Contact]:
        # The unique index's own condition: a long IN list alone would not use it.
        rows = Contact.objects.filter(
            tenant_id__in={t for t, _ in wanted}, phone__in={p for _, p in wanted}
        ).exclude(phone="")
        return {(c.tenant_id, c.phone): c for c in rows if (c.tenant_id, c.phone) in wanted}

    known = load()
    missing = sorted((k for k in wanted if k not in known), key=str)
    if missing:
        new = [
            Contact(tenant_id=key[0], **new_contact_fields(chats[wanted[key][0]][1]))
            for key in missing
        ]
        # A concurrent batch may create the same contact: its row wins, ours is skipped.
        Contact.objects.bulk_create(new, ignore_conflicts=True)
        known = load()
    return known


def new_contact_fields(event: MessageReceived) -> dict[str, object]:
    """The columns of a contact first seen in this message."""
    phone, lid = identity(event)
    by_chat = event.is_group or not (phone or lid)
    return {
        "phone": phone,
        "lid": lid,
        "name": shown_name(event),
        "is_group": event.is_group,
        "jid": event.chat_id if by_chat else phone_jid(event),
    }


def contact_lookups(event: MessageReceived, phone: str, lid: str) -> list[dict[str, object]]:
    """How to find the chat's contact, most reliable first."""
    if event.is_group:
        return [{"jid": event.chat_id, "is_group": True}]
    lookups: list[dict[str, object]] = [{"phone": phone}] if phone else []
    lookups += [{"lid": lid}] if lid else []
    # Neither a phone nor a LID (reference R15 says to tolerate it): the chat JID is all we have.
    return lookups or [{"jid": event.chat_id, "is_group": False}]


def identity(event: MessageReceived) -> tuple[str, str]:
    """(phone digits, LID) of the chat; the phone comes from `remoteJidAlt` for `@lid` chats."""
    if event.is_group:
        return "", ""
    jids = [event.chat_id, event.chat_alt]
    phone = next((jid_digits(j) for j in jids if j.endswith(PHONE_SUFFIXES)), "")
    lid = next((j for j in jids if j.endswith("@lid")), "")
    return phone, lid


def phone_jid(event: MessageReceived) -> str:
    """The chat's phone JID as the provider wrote it, if any."""
    return next((j for j in (event.chat_id, event.chat_alt) if j.endswith(PHONE_SUFFIXES)), "")


def shown_name(event: MessageReceived) -> str:
    """The contact's name this message tells (none from our own phone or a group)."""
    return "" if event.from_me or event.is_group else event.push_name


def learn_from(contact: Contact, event: MessageReceived) -> Contact:
    """`learn` what a message says of its chat's contact."""
    phone, lid = identity(event)
    return learn(contact, phone=phone, lid=lid, name=shown_name(event), jid=phone_jid(event))


def learn(contact: Contact, **values: str) -> Contact:
    """Fill the contact's empty identifiers (and refresh its name) from what a message says."""
    changed = {
        k: v
        for k, v in values.items()
        if v and (k == "name" or not getattr(contact, k)) and getattr(contact, k) != v
    }
    if not changed or contact.is_group:
        return contact
    for name, value in changed.items():
        setattr(contact, name, value)
    try:
        with transaction.atomic():
            contact.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:
        # Another contact already holds that phone or LID; keep both rather than guess a merge.
        logger.warning("contact %s: identifier already used by another contact", contact.pk)
        contact.refresh_from_db()
    return contact


def conversation_for(number: Number, contact: Contact) -> Conversation:
    """The number's thread with this contact, created on first use."""
    return conversations_for([(number, contact)])[0]


def conversations_for(pairs: Sequence[tuple[Number, Contact]]) -> list[Conversation]:
    """The threads of these (number, contact) pairs, in order; missing ones created in bulk."""
    wanted = {(n.pk, c.pk): n.tenant_id for n, c in pairs}

    def load() -> dict[tuple[Any, Any], Conversation]:
        rows = Conversation.objects.filter(
            number_id__in={n for n, _ in wanted}, contact_id__in={c for _, c in wanted}
        )
        return {
            (c.number_id, c.contact_id): c for c in rows if (c.number_id, c.contact_id) in wanted
        }

    known = load()
    missing = sorted((k for k in wanted if k not in known), key=str)
    if missing:
        Conversation.objects.bulk_create(
            [Conversation(number_id=n, contact_id=c, tenant_id=wanted[n, c]) for n, c in missing],
            ignore_conflicts=True,
        )
        known = load()
    found = []
    for number, contact in pairs:
        conversation = known[number.pk, contact.pk]
        conversation.contact = contact
        found.append(conversation)
    return found


def address(jid: str) -> str:
    """Digits for a phone JID, the JID itself otherwise (a `@lid` participant)."""
    return jid_digits(jid) if jid.endswith(PHONE_SUFFIXES) else jid
