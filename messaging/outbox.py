"""The outbox: queue outbound messages, enqueue their send on commit, sweep what was missed.

The message row is the outbox (DESIGN.md section 4): it is committed `queued` before any task
exists, and `next_attempt_at` says when it may be tried. A periodic sweep re-enqueues due messages
whose task was lost, whose worker died (its lease ran out) or whose number came back, so nothing
depends on a Celery message surviving.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from instances.models import Number
from providers.events import ConnectionStatus as S
from providers.http import get_redis

from . import events, services
from .models import Campaign, Contact, Message

logger = logging.getLogger(__name__)

# Numbers in these states take no new messages; any other state queues them until it connects.
REFUSED = {S.BANNED, S.LOGGED_OUT}
# Tasks further ahead than this are not held by workers (broker visibility); the sweep sends them.
ETA_HORIZON = timedelta(seconds=60)
# The sweep runs every 15 s (whatsapp_saas/celery.py); it enqueues what falls due before the next.
SWEEP_WINDOW = timedelta(seconds=20)
SWEEP_BATCH = 2000
ENQUEUED_KEY = "wa:send:enqueued:{}"


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
) -> Message:
    """Create an outbound message `queued` (thread and contact reused) and send it after commit.

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
    transaction.on_commit(lambda: schedule(message.pk, due))
    return message


def create(number: Number, to: str, due: datetime, **fields: object) -> Message:
    """Insert the row with its contact and conversation, and move the thread forward."""
    contact, _ = Contact.objects.get_or_create(
        tenant_id=number.tenant_id, phone=to, defaults={"jid": f"{to}@s.whatsapp.net"}
    )
    conversation = services.conversation_for(number, contact)
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
    services.touch_conversation(conversation, message, unread=False)
    return message


def replay(tenant_id: object, client_message_id: str, fingerprint: str) -> Message | None:
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
        transaction.on_commit(lambda: schedule(message.pk, now))
    return bool(retried)


# ------------------------------------------------------------------ enqueueing


def lease_time() -> timedelta:
    """How long a worker is trusted with a message: its claim, or its task not yet run.

    The setting, but never shorter than a provider call can take, so a slow worker finishes
    before anyone else may claim the message.
    """
    call = settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT + 5
    return timedelta(seconds=max(settings.SEND_LEASE_SECONDS, call))


def schedule(message_id: object, at: datetime) -> None:
    """Enqueue the send task for `at`; further than the horizon, the sweep enqueues it later."""
    delay = (at - timezone.now()).total_seconds()
    if delay > ETA_HORIZON.total_seconds():
        return
    enqueue(str(message_id), max(delay, 0.0))
    mark_enqueued({str(message_id): max(delay, 0.0)}, only_new=False)


def enqueue(message_id: str, countdown: float) -> None:
    """Hand the send to Celery (a small pad so a timely task never finds its message not yet due)."""
    from .tasks import send_message

    send_message.apply_async((message_id,), countdown=countdown + 0.01 if countdown else None)


def mark_enqueued(countdowns: dict[str, float], *, only_new: bool) -> list[str]:
    """Remember enqueues until due + lease time; with `only_new`, return the ids not marked."""
    pipe = get_redis(settings.REDIS_URL).pipeline(transaction=False)
    for message_id, countdown in countdowns.items():
        ttl = int(countdown + lease_time().total_seconds()) + 1
        pipe.set(ENQUEUED_KEY.format(message_id), 1, ex=ttl, nx=only_new)
    return [message_id for message_id, fresh in zip(countdowns, pipe.execute()) if fresh]


# ------------------------------------------------------------------ the periodic sweep


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Expire overdue messages, fail those of cancelled campaigns, enqueue what is (nearly) due."""
    now = now or timezone.now()
    expired = (
        unleased(now)
        .filter(expires_at__lt=now)
        .update(
            status=Message.Status.FAILED,
            failed_at=now,
            next_attempt_at=None,
            error_code="expired",
            error_message="The message could not be sent before it expired.",
            updated_at=now,
        )
    )
    cancelled = (
        unleased(now)
        .filter(campaign__status=Campaign.Status.CANCELLED)
        .update(
            status=Message.Status.FAILED,
            failed_at=now,
            next_attempt_at=None,
            error_code="campaign_cancelled",
            error_message="The campaign was cancelled.",
            updated_at=now,
        )
    )
    if expired or cancelled:
        # failed_at == now singles out the rows this sweep failed.
        events.status_changed(Message.objects.filter(status=Message.Status.FAILED, failed_at=now))
    return {"expired": expired, "cancelled": cancelled, "enqueued": enqueue_due(now)}


def unleased(now: datetime) -> QuerySet[Message]:
    """Queued outbound messages no worker holds (a claim pushes next_attempt_at past now)."""
    return Message.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status=Message.Status.QUEUED,
        direction=Message.Direction.OUTBOUND,
    )


def enqueue_due(now: datetime) -> int:
    """Enqueue, once per grace period, messages due soon on connected numbers of live campaigns."""
    due = (
        Message.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + SWEEP_WINDOW),
            status=Message.Status.QUEUED,
            direction=Message.Direction.OUTBOUND,
            number__status=S.CONNECTED,
            number__deletion_requested_at__isnull=True,
        )
        .exclude(campaign__status=Campaign.Status.PAUSED)
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at")[:SWEEP_BATCH]
    )
    countdowns = {str(pk): max(((at or now) - now).total_seconds(), 0.0) for pk, at in due}
    fresh = mark_enqueued(countdowns, only_new=True) if countdowns else []
    for message_id in fresh:
        enqueue(message_id, countdowns[message_id])
    return len(fresh)
