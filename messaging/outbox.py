"""The outbox: queue outbound messages, wake their number's lane on commit, read the queue.

The message row is the outbox (DESIGN.md section 4): it is committed `queued` before any task
exists, and `next_attempt_at` says when it may be tried. The number's lane (lanes.py) sends its
queue in order; a periodic sweep expires what waited too long and wakes lanes whose wake-up was
lost, whose worker died (its lease ran out) or whose number came back, so nothing depends on a
Celery message surviving.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from instances.models import Number
from providers.events import ConnectionStatus as S

from . import contacts, events, services, wakeup
from .models import Campaign, Contact, Message, SendLane
from .wakeup import Key

logger = logging.getLogger(__name__)

# Numbers in these states take no new messages; any other state queues them until it connects.
REFUSED = {S.BANNED, S.LOGGED_OUT}
# The sweep runs every 5 s (whatsapp_saas/celery.py); it wakes lanes due before the next one.
SWEEP_WINDOW = timedelta(seconds=6)
SWEEP_BATCH = 2000
EXPIRED = ("expired", "The message could not be sent before it expired.")
CANCELLED = ("campaign_cancelled", "The campaign was cancelled.")


class QueueRefused(Exception):
    """The number cannot take messages (deleted, banned, logged out); `status` names why."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class IdempotencyConflict(Exception):
    """The client message id (Idempotency-Key) was already used with a different body."""

    def __init__(self, existing: Message) -> None:
        super().__init__("This idempotency key was already used with a different request body.")
        self.existing = existing


def queue_message(
    number: Number,
    *,
    to: str,
    type: str,
    text: str = "",
    media_url: str = "",
    caption: str = "",
    file_name: str = "",
    client_message_id: str = "",
    fingerprint: str = "",
    campaign: Campaign | None = None,
    not_before: datetime | None = None,
    wake: bool = True,
) -> Message:
    """Create an outbound message `queued` (thread and contact reused); wake its lane on commit.

    A `client_message_id` already used with the same `fingerprint` returns the first message and
    creates nothing; with another fingerprint it raises IdempotencyConflict. Numbers that are
    deleted, banned or logged out raise QueueRefused; others keep the message until they connect.
    """
    if client_message_id and (first := replay(number.tenant_id, client_message_id, fingerprint)):
        return first
    refuse_unless_usable(number)
    due = not_before or timezone.now()
    try:
        with transaction.atomic():
            message = create(
                number,
                to,
                due,
                type=type,
                text=text,
                media_url=media_url,
                caption=caption,
                file_name=file_name,
                campaign=campaign,
                client_message_id=client_message_id,
                request_fingerprint=fingerprint,
            )
    except IntegrityError:
        # A concurrent request with the same client message id won the insert.
        first = (
            replay(number.tenant_id, client_message_id, fingerprint) if client_message_id else None
        )
        if first is None:
            raise
        return first
    if wake:
        wakeup.wake_on_commit(number.pk)
    return message


def create(number: Number, to: str, due: datetime, **fields: object) -> Message:
    """Insert the row with its contact and conversation, and move the thread forward."""
    contact, _ = Contact.objects.get_or_create(
        tenant_id=number.tenant_id, phone=to, defaults={"jid": f"{to}@s.whatsapp.net"}
    )
    conversation = contacts.conversation_for(number, contact)
    expires = max(due, timezone.now()) + timedelta(hours=settings.MESSAGE_EXPIRY_HOURS)
    message = Message.objects.create(
        tenant_id=number.tenant_id,
        number=number,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.QUEUED,
        recipient=to,
        sender=number.phone_number,
        next_attempt_at=due,
        expires_at=expires,
        **fields,
    )
    services.touch_conversations([(message, False)])
    return message


def replay(tenant_id: Key, client_message_id: str, fingerprint: str) -> Message | None:
    """The message first queued under this client id, if its body matched; None if unused."""
    first = Message.objects.filter(tenant_id=tenant_id, client_message_id=client_message_id).first()
    if first is not None and first.request_fingerprint != fingerprint:
        raise IdempotencyConflict(first)
    return first


def refuse_unless_usable(number: Number) -> None:
    """Raise QueueRefused for a number that is being deleted, banned or logged out."""
    if number.deletion_requested_at is not None:
        raise QueueRefused("This number is being deleted.", "deleted")
    if number.status in REFUSED:
        raise QueueRefused(
            f"This number is {number.status}: link it again before sending.", number.status
        )


def retry_failed(message: Message) -> bool:
    """Queue a failed outbound message again: same row, attempts from zero, a fresh expiry."""
    now = timezone.now()
    expiry = timedelta(hours=settings.MESSAGE_EXPIRY_HOURS)
    retried = Message.objects.filter(
        pk=message.pk,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.FAILED,
        provider_message_id="",
    ).update(
        status=Message.Status.QUEUED,
        attempts=0,
        next_attempt_at=now,
        expires_at=now + expiry,
        error_code="",
        error_message="",
        failed_at=None,
        updated_at=now,
    )
    if retried:
        events.status_changed([message])
        wakeup.wake_on_commit(message.number_id)
    return bool(retried)


# ------------------------------------------------------------------ the queue a lane sends


# A queued message with a provider id was handed over to a provider that queues sends itself
# (GreenAPI): it waits there, never sent again, until the provider reports it sent.
NOT_HANDED_OVER = Q(provider_message_id="")


def queued_of(number_id: Key) -> QuerySet[Message]:
    """The number's messages waiting to be sent (a paused campaign's wait aside)."""
    return (
        Message.objects.filter(
            number_id=number_id, status=Message.Status.QUEUED, direction=Message.Direction.OUTBOUND
        )
        .filter(NOT_HANDED_OVER)
        .exclude(campaign__status=Campaign.Status.PAUSED)
    )


def heads(number_id: Key) -> QuerySet[Message]:
    """Each chat's oldest queued message: only these may go, so every chat stays in order."""
    earlier = queued_of(number_id).filter(
        Q(created_at__lt=OuterRef("created_at"))
        | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk")),
        recipient=OuterRef("recipient"),
    )
    return queued_of(number_id).filter(~Exists(earlier))


def front(number_id: Key, now: datetime) -> Message | None:
    """The head to work next, with its campaign: the oldest due one, else the one due soonest.

    None when nothing is queued. One query, as the lane asks before every message.
    """
    later = Q(next_attempt_at__gt=now)
    return (
        heads(number_id)
        .select_related("campaign")
        .order_by(
            Case(When(later, then=Value(1)), default=Value(0), output_field=IntegerField()),
            Case(When(later, then=F("next_attempt_at")), default=F("created_at")),
            "pk",
        )
        .first()
    )


def due_at(message: Message, now: datetime) -> datetime:
    """When a queued message may be tried (now, if it already may)."""
    return max(message.next_attempt_at or now, now)


def respace(campaign: Campaign, start: datetime) -> int:
    """Space the campaign's waiting messages `delay_seconds` apart from `start`, in their order."""
    step = timedelta(seconds=campaign.delay_seconds)
    waiting = (
        campaign.messages.filter(status=Message.Status.QUEUED, in_flight_since__isnull=True)
        .order_by("next_attempt_at", "created_at")
        .only("pk", "next_attempt_at")
    )
    changed = []
    for i, message in enumerate(waiting):
        at = start + step * i
        if message.next_attempt_at is None or message.next_attempt_at < at:
            message.next_attempt_at = at
            changed.append(message)
    Message.objects.bulk_update(changed, ["next_attempt_at"])
    return len(changed)


def fail_unsent(messages: QuerySet[Message], reason: tuple[str, str]) -> int:
    """Fail these messages if still queued and never possibly at the provider; emit their status.

    A message with an attempt in flight is left to its lane, which finds out first whether the
    provider has it. Rows another transaction holds are skipped (their lane decides).
    """
    code, text = reason
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            messages.filter(status=Message.Status.QUEUED, in_flight_since__isnull=True)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)
        )
        failed = Message.objects.filter(pk__in=ids).update(
            status=Message.Status.FAILED,
            failed_at=now,
            next_attempt_at=None,
            error_code=code,
            error_message=text,
            updated_at=now,
        )
        if failed:
            events.status_changed(Message.objects.filter(pk__in=ids))
    return failed


# ------------------------------------------------------------------ the periodic sweep


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Expire overdue messages, fail those of cancelled campaigns, wake lanes with work."""
    now = now or timezone.now()
    waiting = Message.objects.filter(
        NOT_HANDED_OVER, status=Message.Status.QUEUED, direction=Message.Direction.OUTBOUND
    )
    expired = fail_unsent(waiting.filter(expires_at__lt=now), EXPIRED)
    cancelled = fail_unsent(waiting.filter(campaign__status=Campaign.Status.CANCELLED), CANCELLED)
    return {"expired": expired, "cancelled": cancelled, "woken": wake_lanes(now)}


def wake_lanes(now: datetime) -> int:
    """Wake, once per sweep window, lanes that no worker holds and that have work soon."""
    horizon = now + SWEEP_WINDOW
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    due: dict[Key, datetime] = {
        number_id: at or now
        for number_id, at in SendLane.objects.filter(free, due_at__lte=horizon).values_list(
            "number_id", "due_at"
        )[:SWEEP_BATCH]
    }
    # Idle lanes (or none yet) with due messages: a lost wake-up, or a number that came back.
    busy = SendLane.objects.filter(number_id=OuterRef("number_id")).filter(
        Q(due_at__isnull=False) | Q(leased_until__gt=now)
    )
    idle = (
        Message.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=horizon),
            NOT_HANDED_OVER,
            status=Message.Status.QUEUED,
            direction=Message.Direction.OUTBOUND,
            number__status=S.CONNECTED,
            number__deletion_requested_at__isnull=True,
        )
        .exclude(campaign__status=Campaign.Status.PAUSED)
        .filter(~Exists(busy))
        .values("number_id")
        .annotate(due=Min("next_attempt_at"))
        .values_list("number_id", "due")[:SWEEP_BATCH]
    )
    for number, at in idle:
        due.setdefault(number, at or now)
    return sum(
        wakeup.wake(lane, max((at - now).total_seconds(), 0.0), once=True)
        for lane, at in due.items()
    )
