"""The only code that records messages and moves their status: inbound, receipts, sent echoes."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Greatest
from django.utils import timezone

from instances.models import Number
from providers.base import jid_digits
from providers.events import (
    LADDER,
    MessageReceived,
    MessageSent,
    MessageStatus,
    status_can_advance,
)

from . import changes, events, identities, media, wakeup
from .models import Contact, Conversation, Message, PendingReceipt, SentEcho

logger = logging.getLogger(__name__)

PENDING_RECEIPT_TTL = timedelta(days=1)
# The timestamp each rung sets; reaching a rung also stamps the rungs below it that never came.
STAMPS = {
    MessageStatus.SENT: "sent_at",
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.READ: "read_at",
    MessageStatus.PLAYED: "read_at",
}
PHONE_SUFFIXES = ("@s.whatsapp.net", "@c.us")
# Reasons a provider holds a message it accepted (providers.greenapi_states GREENAPI_STATUSES).
HOLD_REASONS = frozenset({"spam_suspected"})


# ------------------------------------------------------------------ receipts: the one function


def apply_status(
    number: Number,
    provider_message_id: str,
    status: MessageStatus,
    *,
    reason: str = "",
    detail: str = "",
    at: datetime | None = None,
) -> Message | None:
    """Move an outbound message up the ladder (`failed` is terminal, never down, stamps set once).

    A receipt for a provider id we do not know yet is kept as a PendingReceipt and applied by
    `apply_pending_receipts` when the message gets that id. Returns the message, if known.
    """
    if status is MessageStatus.UNKNOWN or not provider_message_id:
        return None
    at = at or timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(
                number=number,
                provider_message_id=provider_message_id,
                direction=Message.Direction.OUTBOUND,
            )
            .first()
        )
        if message is None:
            keep_pending(number, provider_message_id, status, reason, detail, at)
            return None
        climb(message, status, reason, detail, at)
    return message


def climb(message: Message, status: MessageStatus, reason: str, detail: str, at: datetime) -> bool:
    """Apply one status to a locked message if the ladder allows it; True when it moved."""
    if status is MessageStatus.QUEUED and reason:
        return hold(message, reason, detail)
    if not status_can_advance(MessageStatus(message.status), status):
        return False
    message.status = status
    fields = {"status", "updated_at"}
    if status is MessageStatus.FAILED:
        message.failed_at = message.failed_at or at
        message.error_code = reason or "failed"
        message.error_message = detail or "The provider reported that the message failed."
        fields |= {"failed_at", "error_code", "error_message"}
    else:
        if message.error_code in HOLD_REASONS:
            # The provider let go of a message it held: the hold is over.
            message.error_code, message.error_message = "", ""
            fields |= {"error_code", "error_message"}
        for rung in LADDER[1 : LADDER.index(status) + 1]:
            name = STAMPS[rung]
            if getattr(message, name) is None:
                setattr(message, name, at)
                fields.add(name)
    message.save(update_fields=sorted(fields))
    events.status_changed([message])
    return True


def hold(message: Message, reason: str, detail: str) -> bool:
    """The provider holds a message it accepted (GreenAPI `yellowCard`): still queued, with why.

    GreenAPI keeps it up to 24 h and may still send it; its `sent` receipt moves it on.
    """
    if message.status != Message.Status.QUEUED or message.error_code == reason:
        return False
    message.error_code = reason
    message.error_message = detail or "The provider is holding the message in its queue."
    message.save(update_fields=["error_code", "error_message", "updated_at"])
    events.status_changed([message])
    return True


def handover_status(queues_sends: bool) -> str:
    """The status of a message its provider just accepted (for the send lane).

    Evolution hands it to WhatsApp at once: `sent`. GreenAPI puts it in its own queue and
    reports `sent` when it leaves, so it stays `queued` with its provider id: the lane must
    treat a message with a provider id as handed over and never send it again.
    """
    return Message.Status.QUEUED if queues_sends else Message.Status.SENT


def keep_pending(
    number: Number,
    provider_message_id: str,
    status: MessageStatus,
    reason: str,
    detail: str,
    at: datetime,
) -> None:
    """Remember a receipt for a message we have not seen yet (once per status)."""
    PendingReceipt.objects.bulk_create(
        [
            PendingReceipt(
                number=number,
                provider_message_id=provider_message_id,
                status=status,
                reason=reason,
                detail=detail,
                occurred_at=at,
            )
        ],
        ignore_conflicts=True,
    )


def apply_pending_receipts(message: Message) -> int:
    """Apply the receipts that arrived before this message had its provider id; call it then."""
    if not message.provider_message_id or message.direction != Message.Direction.OUTBOUND:
        return 0
    waiting = PendingReceipt.objects.filter(
        number_id=message.number_id, provider_message_id=message.provider_message_id
    )
    if not waiting.exists():
        # The usual case on the send path: one cheap query, no row lock.
        return 0
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        pending = list(
            PendingReceipt.objects.select_for_update().filter(
                number_id=locked.number_id, provider_message_id=locked.provider_message_id
            )
        )
        # Ladder order, `failed` last: a contradictory pair then keeps the rung that was reached.
        pending.sort(
            key=lambda r: (
                LADDER.index(MessageStatus(r.status))
                if MessageStatus(r.status) in LADDER
                else len(LADDER)
            )
        )
        for receipt in pending:
            climb(
                locked,
                MessageStatus(receipt.status),
                receipt.reason,
                receipt.detail,
                receipt.occurred_at or receipt.created_at,
            )
        PendingReceipt.objects.filter(pk__in=[r.pk for r in pending]).delete()
    message.__dict__.update(locked.__dict__)
    changes.apply_pending_changes(message)
    return len(pending)


def apply_waiting_receipts(limit: int = 500) -> int:
    """Safety net for the race between a receipt and its message's id: apply what now matches."""
    known = Message.objects.filter(
        number_id=OuterRef("number_id"),
        provider_message_id=OuterRef("provider_message_id"),
        direction=Message.Direction.OUTBOUND,
    )
    pairs = (
        PendingReceipt.objects.filter(Exists(known))
        .values_list("number_id", "provider_message_id")
        .distinct()[:limit]
    )
    applied = 0
    for number_id, provider_message_id in pairs:
        message = Message.objects.filter(
            number_id=number_id, provider_message_id=provider_message_id
        ).first()
        if message is not None:
            applied += apply_pending_receipts(message)
    return applied


def drop_stale_receipts(max_age: timedelta = PENDING_RECEIPT_TTL) -> int:
    """Forget receipts whose message never appeared."""
    deleted, _ = PendingReceipt.objects.filter(created_at__lt=timezone.now() - max_age).delete()
    return deleted


# ------------------------------------------------------------------ inbound and echoes


def record_inbound(number: Number, event: MessageReceived) -> Message:
    """Record a message from a chat once (dedupe on number + provider id), with contact and thread.

    `from_me` messages were typed on the business phone itself: recorded as outbound and `sent`,
    without touching the unread count. Group messages are recorded and flagged `is_group`.
    """
    existing = find(number, event.message_id)
    if existing is not None:
        return existing
    with transaction.atomic():
        contact = contact_for(number.tenant_id, event)
        conversation = conversation_for(number, contact)
        try:
            with transaction.atomic():
                message = Message.objects.create(**message_fields(number, conversation, event))
        except IntegrityError:
            # A concurrent delivery of the same message won the insert.
            existing = find(number, event.message_id)
            if existing is None:
                raise
            return existing
        touch_conversation(conversation, message, unread=not event.from_me)
        if event.media_source:
            declared = event.media_source.get("size")
            source = {k: v for k, v in event.media_source.items() if k != "size"}
            media.register(message, source, declared_size=declared)
        events.received(message)
    if event.from_me:
        apply_pending_receipts(message)
    changes.apply_pending_changes(message)
    return message


def find(number: Number, provider_message_id: str) -> Message | None:
    """The message this number already has under a provider id."""
    if not provider_message_id:
        return None
    return Message.objects.filter(number=number, provider_message_id=provider_message_id).first()


def message_fields(
    number: Number, conversation: Conversation, event: MessageReceived
) -> dict[str, object]:
    """Columns of a message recorded from a provider event."""
    at = event.occurred_at or timezone.now()
    counterpart = conversation.contact.phone or conversation.contact.jid
    own = number.phone_number
    sender = address(event.sender) if event.is_group else counterpart
    return {
        "tenant_id": number.tenant_id,
        "number": number,
        "conversation": conversation,
        "direction": Message.Direction.OUTBOUND if event.from_me else Message.Direction.INBOUND,
        "status": Message.Status.SENT if event.from_me else Message.Status.RECEIVED,
        "type": event.message_type or Message.Type.TEXT,
        "provider_message_id": event.message_id,
        "recipient": counterpart if event.from_me else own,
        "sender": own if event.from_me else sender,
        "text": event.text,
        # Our own URL serves an inbound file (API.md); the provider's is kept on its MediaFile.
        "media_url": "",
        "reply_to": find(number, event.reply_to) if event.reply_to else None,
        "caption": event.caption,
        "file_name": event.file_name,
        "mime_type": event.mime_type,
        "extra": event.extra,
        "is_group": event.is_group,
        "sent_at": at,
    }


def touch_conversation(conversation: Conversation, message: Message, *, unread: bool) -> None:
    """Move the thread's last-message time forward and count an unread inbound message."""
    at = message.sent_at or message.created_at
    Conversation.objects.filter(pk=conversation.pk).update(
        # GREATEST ignores NULL on PostgreSQL, so the first message sets it.
        last_message_at=Greatest(F("last_message_at"), at),
        unread_count=F("unread_count") + (1 if unread else 0),
        updated_at=timezone.now(),
    )


def record_sent_echo(number: Number, event: MessageSent) -> Message | None:
    """The provider's echo of an API send: apply its status to our message, or keep the echo.

    An echo for an id we do not know yet belongs to a send whose answer is still on its way, or
    was lost with its worker: it is kept so the number's lane can match it (inflight.py).
    """
    message = find(number, event.message_id)
    if message is None:
        keep_echo(number, event)
        return None
    if message.direction != Message.Direction.OUTBOUND:
        return None
    if event.status not in (MessageStatus.UNKNOWN, MessageStatus.QUEUED):
        return apply_status(number, event.message_id, event.status, at=event.occurred_at)
    return message


def keep_echo(number: Number, event: MessageSent) -> None:
    """Keep an echo no message has claimed; pull a waiting in-flight message forward to it."""
    chat = jid_digits(event.chat_id)
    if not (event.message_id and event.fingerprint and chat):
        logger.debug("sent echo without id, chat or fingerprint on %s", number.instance_name)
        return
    now = timezone.now()
    SentEcho.objects.bulk_create(
        [
            SentEcho(
                number=number,
                provider_message_id=event.message_id,
                chat=chat,
                fingerprint=event.fingerprint,
                received_at=now,
            )
        ],
        ignore_conflicts=True,
    )
    waiting = Message.objects.filter(
        number=number,
        status=Message.Status.QUEUED,
        recipient=chat,
        in_flight_since__isnull=False,
        next_attempt_at__gt=now,
    )
    if waiting.update(next_attempt_at=now):
        wakeup.wake_on_commit(number.pk)


def drop_stale_echoes(max_age: timedelta = PENDING_RECEIPT_TTL) -> int:
    """Forget echoes no lane needed."""
    deleted, _ = SentEcho.objects.filter(received_at__lt=timezone.now() - max_age).delete()
    return deleted


# ------------------------------------------------------------------ contacts and conversations


def contact_for(tenant_id: uuid.UUID | str, event: MessageReceived) -> Contact:
    """Find or create the chat's contact: by phone, then LID, then group JID; learn new ids."""
    phone, lid = identity(event)
    name = "" if event.from_me or event.is_group else event.push_name
    lookups = contact_lookups(event, phone, lid)
    if phone and lid:
        # Both identities at once: the contacts seen under each become one (identities.py).
        merged = identities.merge_if_split(tenant_id, phone, lid)
        if merged is not None:
            return learn(merged, name=name, jid=phone_jid(event))
    for lookup in lookups:
        contact = Contact.objects.filter(tenant_id=tenant_id, **lookup).first()
        if contact is not None:
            return learn(contact, phone=phone, lid=lid, name=name, jid=phone_jid(event))
    by_chat = event.is_group or not (phone or lid)
    fields = {
        "phone": phone,
        "lid": lid,
        "name": name,
        "is_group": event.is_group,
        "jid": event.chat_id if by_chat else phone_jid(event),
    }
    try:
        with transaction.atomic():
            return Contact.objects.create(tenant_id=tenant_id, **fields)
    except IntegrityError:
        return Contact.objects.get(tenant_id=tenant_id, **lookups[0])


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
    conversation, _ = Conversation.objects.get_or_create(
        number=number, contact=contact, defaults={"tenant_id": number.tenant_id}
    )
    conversation.contact = contact
    return conversation


def address(jid: str) -> str:
    """Digits for a phone JID, the JID itself otherwise (a `@lid` participant)."""
    return jid_digits(jid) if jid.endswith(PHONE_SUFFIXES) else jid


# ------------------------------------------------------------------ inbox: reading, new chats


def mark_read(conversation: Conversation, through: Message) -> int:
    """A member saw the thread up to `through` on screen: unread counts only what came after.

    Never moves back (an older `through` changes nothing); returns the unread count left.
    """
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if through.conversation_id != locked.pk or (
            locked.last_read_at is not None and through.created_at <= locked.last_read_at
        ):
            return locked.unread_count
        unread = Message.objects.filter(
            conversation=locked,
            direction=Message.Direction.INBOUND,
            created_at__gt=through.created_at,
        ).count()
        Conversation.objects.filter(pk=locked.pk).update(
            last_read_at=through.created_at, unread_count=unread, updated_at=timezone.now()
        )
    conversation.unread_count, conversation.last_read_at = unread, through.created_at
    return unread


def start_conversation(number: Number, phone: str) -> Conversation:
    """The number's thread with a phone (E.164 digits), created empty when there is none yet."""
    contact, _ = Contact.objects.get_or_create(
        tenant_id=number.tenant_id, phone=phone, defaults={"jid": f"{phone}@s.whatsapp.net"}
    )
    return conversation_for(number, contact)
