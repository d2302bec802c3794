"""The only code that records messages and moves their status: inbound, receipts, sent echoes."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from instances.models import Number
from providers.base import jid_digits
from providers.events import (
    LADDER,
    MessageReceived,
    MessageSent,
    MessageStatus,
    MessageStatusChanged,
    status_can_advance,
)
from whatsapp_saas import bulk

from . import changes, contacts, events, media, wakeup
from .contacts import address, conversation_for
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
            keep = pending_receipt(number, provider_message_id, status, reason, detail, at)
            PendingReceipt.objects.bulk_create([keep], ignore_conflicts=True)
            return None
        climb(message, status, reason, detail, at)
    return message


def climb(message: Message, status: MessageStatus, reason: str, detail: str, at: datetime) -> bool:
    """Apply one status to a locked message if the ladder allows it; True when it moved."""
    fields = advance(message, status, reason, detail, at)
    if not fields:
        return False
    message.save(update_fields=sorted(fields | {"updated_at"}))
    events.status_changed([message])
    return True


def advance(
    message: Message, status: MessageStatus, reason: str, detail: str, at: datetime
) -> set[str]:
    """The ladder's one rule, in memory: apply a status to a locked message; the fields it set."""
    if status is MessageStatus.QUEUED and reason:
        return hold(message, reason, detail)
    if not status_can_advance(MessageStatus(message.status), status):
        return set()
    message.status = status
    fields = {"status"}
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
    return fields


def hold(message: Message, reason: str, detail: str) -> set[str]:
    """The provider holds a message it accepted (GreenAPI `yellowCard`): still queued, with why.

    GreenAPI keeps it up to 24 h and may still send it; its `sent` receipt moves it on.
    """
    if message.status != Message.Status.QUEUED or message.error_code == reason:
        return set()
    message.error_code = reason
    message.error_message = detail or "The provider is holding the message in its queue."
    return {"error_code", "error_message"}


def apply_statuses(receipts: Sequence[tuple[Number, MessageStatusChanged]]) -> int:
    """`apply_status` of many receipts, in order, with one locking read and one update.

    Receipts for messages not known yet are kept pending in one statement; returns how many
    messages moved.
    """
    wanted = [(n, r) for n, r in receipts if r.status is not MessageStatus.UNKNOWN and r.message_id]
    if not wanted:
        return 0
    locked = {
        (m.number_id, m.provider_message_id): m
        for m in with_provider_ids({n.pk for n, _ in wanted}, {r.message_id for _, r in wanted})
        .select_for_update()
        .filter(direction=Message.Direction.OUTBOUND)
        .order_by("pk")
    }
    moved: dict[Any, set[str]] = {}
    early: list[PendingReceipt] = []
    for number, receipt in wanted:
        at = receipt.occurred_at or timezone.now()
        message = locked.get((number.pk, receipt.message_id))
        if message is None:
            early.append(
                pending_receipt(
                    number, receipt.message_id, receipt.status, receipt.reason, receipt.detail, at
                )
            )
            continue
        fields = advance(message, receipt.status, receipt.reason, receipt.detail, at)
        if fields:
            moved.setdefault(message.pk, set()).update(fields)
    PendingReceipt.objects.bulk_create(early, ignore_conflicts=True)
    if moved:
        changed = [m for m in locked.values() if m.pk in moved]
        now = timezone.now()
        for message in changed:
            message.updated_at = now
        names = sorted(set().union(*moved.values()) | {"updated_at"})
        bulk.update_rows(changed, names)
        events.status_changed(changed)
    return len(moved)


def handover_status(queues_sends: bool) -> str:
    """The status of a message its provider just accepted (for the send lane).

    Evolution hands it to WhatsApp at once: `sent`. GreenAPI puts it in its own queue and
    reports `sent` when it leaves, so it stays `queued` with its provider id: the lane must
    treat a message with a provider id as handed over and never send it again.
    """
    return Message.Status.QUEUED if queues_sends else Message.Status.SENT


def pending_receipt(
    number: Number,
    provider_message_id: str,
    status: MessageStatus,
    reason: str,
    detail: str,
    at: datetime,
) -> PendingReceipt:
    """The unsaved row of a receipt for a message we have not seen yet (kept once per status)."""
    return PendingReceipt(
        number=number,
        provider_message_id=provider_message_id,
        status=status,
        reason=reason,
        detail=detail,
        occurred_at=at,
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
    recorded = record_inbound_many([(number, event)])
    if recorded:
        return recorded[0]
    # A concurrent delivery of the same message won the insert.
    existing = find(number, event.message_id)
    if existing is None:
        raise IntegrityError(f"message {event.message_id!r} was neither stored nor found")
    return existing


def record_inbound_many(received: Sequence[tuple[Number, MessageReceived]]) -> list[Message]:
    """`record_inbound` of many messages in bulk statements; returns those recorded now.

    Messages a number already has, or that repeat in `received`, are skipped; a concurrent
    insert of the same message wins (ON CONFLICT on the number + provider id key).
    """
    fresh = unseen(received)
    if not fresh:
        return []
    with transaction.atomic():
        people = contacts.contacts_for([(n.tenant_id, e) for n, e in fresh])
        threads = contacts.conversations_for(
            [(n, c) for (n, _), c in zip(fresh, people, strict=True)]
        )
        rows = message_rows(fresh, threads)
        Message.objects.bulk_create(rows, ignore_conflicts=True)
        stored = set(
            Message.objects.filter(pk__in=[m.pk for m in rows]).values_list("pk", flat=True)
        )
        new = [(m, e) for m, (_, e) in zip(rows, fresh, strict=True) if m.pk in stored]
        touch_conversations([(m, not e.from_me) for m, e in new])
        media.register_many([(m, e.media_source) for m, e in new if e.media_source])
        events.received_many([m for m, _ in new])
    for message, event in new:
        if event.from_me:
            apply_pending_receipts(message)
    changes.apply_pending_changes_many([m for m, _ in new])
    return [m for m, _ in new]


def with_provider_ids(numbers: Iterable[Any], provider_ids: Iterable[str]) -> QuerySet[Message]:
    """Messages of these numbers under these provider ids.

    Spelled with the unique index's own condition: past 100 ids PostgreSQL no longer proves an
    IN list implies it, and would scan the table instead.
    """
    return Message.objects.filter(
        number_id__in=list(numbers), provider_message_id__in=list(provider_ids)
    ).exclude(provider_message_id="")


def unseen(
    received: Sequence[tuple[Number, MessageReceived]],
) -> list[tuple[Number, MessageReceived]]:
    """The messages no number has yet, each once (one query)."""
    ids = {e.message_id for _, e in received if e.message_id}
    numbers = {n.pk for n, _ in received}
    pairs = with_provider_ids(numbers, ids).values_list("number_id", "provider_message_id")
    known = set(pairs) if ids else set()
    fresh = []
    for number, event in received:
        key = (number.pk, event.message_id)
        if event.message_id and key in known:
            continue
        known.add(key)
        fresh.append((number, event))
    return fresh


def message_rows(
    fresh: Sequence[tuple[Number, MessageReceived]], threads: Sequence[Conversation]
) -> list[Message]:
    """Unsaved messages of these events; a reply may quote a message of the same batch."""
    rows: list[Message] = []
    by_id: dict[tuple[object, str], Message] = {}
    for (number, event), conversation in zip(fresh, threads, strict=True):
        message = Message(**message_fields(number, conversation, event))
        if event.reply_to and message.reply_to is None:
            message.reply_to = by_id.get((number.pk, event.reply_to))
        by_id[number.pk, event.message_id] = message
        rows.append(message)
    return rows


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


def touch_conversations(messages: Sequence[tuple[Message, bool]]) -> None:
    """Move each thread's last-message time forward and count unread inbound messages.

    `messages` are (message, counts as unread) pairs; one statement for all their threads.
    """
    touched: dict[Any, tuple[datetime, int]] = {}
    for message, unread in messages:
        at = message.sent_at or message.created_at
        last, count = touched.get(message.conversation_id, (at, 0))
        touched[message.conversation_id] = (max(last, at), count + int(unread))
    if not touched:
        return
    rows = sorted(touched.items(), key=lambda item: str(item[0]))
    values = ", ".join(["(%s::uuid, %s::timestamptz, %s::integer)"] * len(rows))
    params: list[Any] = [timezone.now()]
    for pk, (at, count) in rows:
        params += [pk, at, count]
    table = connection.ops.quote_name(Conversation._meta.db_table)
    with connection.cursor() as cursor:
        # GREATEST ignores NULL on PostgreSQL, so the first message sets it. Only placeholders
        # and our own table name are formatted into the statement.
        cursor.execute(
            f"UPDATE {table} AS c SET last_message_at = GREATEST(c.last_message_at, v.at), "  # noqa: S608
            "unread_count = c.unread_count + v.unread, updated_at = %s "
            f"FROM (VALUES {values}) AS v(id, at, unread) WHERE c.id = v.id",
            params,
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
