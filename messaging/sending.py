"""Send one queued message: claim it, pace it, call the provider, record the try, classify errors.

A claim is a lease: one conditional UPDATE moves `next_attempt_at` of a due, queued message to
now + lease, and every later write is fenced on that exact value, so two workers never send the
same message and a worker that dies after claiming leaves a message the sweep takes again once
the lease has run out. The lease outlasts the provider call (timeouts + 5 s), so a slow worker
still finishes before anyone else may claim.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from instances import notify
from instances.models import ConnectionEvent, Number
from instances.services import change_status, gateway_for
from providers.errors import (
    ProviderAuthenticationError,
    ProviderCircuitOpenError,
    ProviderError,
    ProviderInvalidRequestError,
    ProviderNotFoundError,
    ProviderQuotaExceededError,
    ProviderRateLimitedError,
    RecipientNotOnWhatsAppError,
)
from providers.events import ConnectionStatus as S
from providers.events import StateReason as R
from providers.types import MediaKind, MediaMessage, SendResult, TextMessage

from . import events, outbox, pacing, services
from .models import Campaign, Message, SendAttempt

logger = logging.getLogger(__name__)
Outcome = SendAttempt.Outcome

# First match wins (RecipientNotOnWhatsAppError is an invalid request): errors no retry can fix.
PERMANENT: tuple[tuple[type[ProviderError], str], ...] = (
    (RecipientNotOnWhatsAppError, "not_on_whatsapp"),
    (ProviderQuotaExceededError, "quota_exceeded"),
    (ProviderNotFoundError, "not_found"),
    (ProviderAuthenticationError, "unauthorized"),
    (ProviderInvalidRequestError, "invalid_request"),
)
DEFAULT_RETRY_AFTER = 5.0
# Wakes just after the earlier message of the same chat is due again.
ORDER_PAD = timedelta(seconds=0.5)


@dataclass(frozen=True)
class Claim:
    """A message this worker holds until `lease` (also the fencing value of every write)."""

    message: Message
    lease: datetime
    due: datetime


def claim(message_id: str) -> Claim | None:
    """Take a due, queued outbound message with one conditional UPDATE; None if not ours."""
    now = timezone.now()
    message = (
        Message.objects.select_related("number", "campaign")
        .filter(pk=message_id, status=Message.Status.QUEUED, direction=Message.Direction.OUTBOUND)
        .first()
    )
    if message is None or (message.next_attempt_at and message.next_attempt_at > now):
        return None
    due, lease = message.next_attempt_at or now, now + outbox.lease_time()
    taken = Message.objects.filter(
        pk=message.pk, status=Message.Status.QUEUED, next_attempt_at=message.next_attempt_at
    ).update(next_attempt_at=lease)
    if not taken:
        return None
    message.next_attempt_at = lease
    return Claim(message, lease, due)


def held(c: Claim) -> QuerySet[Message]:
    """The rows this claim still owns: queued with our lease (the fence of every write)."""
    return Message.objects.filter(
        pk=c.message.pk, status=Message.Status.QUEUED, next_attempt_at=c.lease
    )


def send(message_id: str) -> str:
    """Run one send of a message; returns what happened (for logs and tests)."""
    c = claim(message_id)
    if c is None:
        return "skipped"
    message, number = c.message, c.message.number
    if message.expires_at and message.expires_at <= timezone.now():
        return fail_unsent(c, "expired", "The message could not be sent before it expired.")
    campaign = message.campaign
    if campaign is not None and campaign.status == Campaign.Status.CANCELLED:
        return fail_unsent(c, "campaign_cancelled", "The campaign was cancelled.")
    if campaign is not None and campaign.status == Campaign.Status.PAUSED:
        return release(c, c.due, "campaign_paused")
    if number.status != S.CONNECTED or number.deletion_requested_at is not None:
        # The sweep enqueues it again once the number is connected.
        return release(c, c.due, "number_not_connected")
    earlier = earlier_unsent(message)
    if earlier is not None:
        # One chat stays in order: wait until the older message to this contact has gone.
        return release(
            c, max(earlier, timezone.now()) + ORDER_PAD, "waiting_for_earlier", enqueue=True
        )
    wait = pacing.campaign_wait(campaign) if campaign is not None else 0.0
    if wait > 0:
        return release(c, timezone.now() + timedelta(seconds=wait), "campaign_paced", enqueue=True)
    wait = pacing.wait_for_slot(number)
    if wait > 0:
        return release(c, timezone.now() + timedelta(seconds=wait), "paced", enqueue=True)
    return attempt(c)


def earlier_unsent(message: Message) -> datetime | None:
    """When the oldest still-queued earlier message to the same contact is next due, if any."""
    earlier = (
        Message.objects.filter(
            number_id=message.number_id,
            recipient=message.recipient,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.QUEUED,
            created_at__lt=message.created_at,
        )
        .exclude(campaign__status=Campaign.Status.PAUSED)
        .order_by("created_at")
        .values("next_attempt_at")
        .first()
    )
    if earlier is None:
        return None
    return earlier["next_attempt_at"] or timezone.now()


def release(c: Claim, at: datetime, outcome: str, *, enqueue: bool = False) -> str:
    """Give the message back unsent, due at `at`; optionally enqueue it for then."""
    if held(c).update(next_attempt_at=at) and enqueue:
        transaction.on_commit(lambda: outbox.schedule(c.message.pk, at))
    return outcome


def fail_unsent(c: Claim, code: str, text: str) -> str:
    """Fail a message that was never handed to the provider."""
    now = timezone.now()
    with transaction.atomic():
        if held(c).update(
            status=Message.Status.FAILED,
            failed_at=now,
            next_attempt_at=None,
            error_code=code,
            error_message=text,
            updated_at=now,
        ):
            events.status_changed([c.message])
    return Outcome.FAILED


# ------------------------------------------------------------------ one try at the provider


def attempt(c: Claim) -> str:
    """Call the provider once and record the try with its outcome."""
    started = timezone.now()
    try:
        result = call_provider(c.message)
    except ProviderCircuitOpenError as exc:
        # No request left this process: not a try, so no attempt and no failure on the number.
        wait = exc.retry_after or DEFAULT_RETRY_AFTER
        return release(c, timezone.now() + timedelta(seconds=wait), "circuit_open", enqueue=True)
    except ProviderError as exc:
        return record_error(c, started, exc)
    return record_sent(c, started, result)


def call_provider(message: Message) -> SendResult:
    """Send through the number's gateway (registry, circuit breaker and timeouts included)."""
    gateway, ref = gateway_for(message.number), message.number.ref
    if message.type == Message.Type.TEXT:
        return gateway.send_text(ref, TextMessage(to=message.recipient, text=message.text))
    return gateway.send_media(
        ref,
        MediaMessage(
            to=message.recipient,
            url=message.media_url,
            kind=MediaKind(message.type),
            caption=message.caption,
            file_name=message.file_name,
            mime_type=message.mime_type,
        ),
    )


def record_sent(c: Claim, started: datetime, result: SendResult) -> str:
    """Store the provider id and `sent`, apply receipts that came first, reset the failure count."""
    now, message = timezone.now(), c.message
    fields = {
        "status": Message.Status.SENT,
        "provider_message_id": result.provider_message_id,
        "sent_at": now,
        "next_attempt_at": None,
        "attempts": F("attempts") + 1,
        "updated_at": now,
    }
    with transaction.atomic():
        SendAttempt.objects.create(
            message=message, started_at=started, finished_at=now, outcome=Outcome.SENT
        )
        if store_sent(c, fields) or cancelled_in_flight(c).update(
            **fields, error_code="", error_message="", failed_at=None
        ):
            events.status_changed([message])
        else:
            logger.warning("message %s was sent after its lease ran out", message.pk)
    message.provider_message_id = result.provider_message_id
    services.apply_pending_receipts(message)
    Number.objects.filter(pk=message.number_id, consecutive_send_failures__gt=0).update(
        consecutive_send_failures=0
    )
    return Outcome.SENT


def cancelled_in_flight(c: Claim) -> QuerySet[Message]:
    """The row if its campaign was cancelled while this claim was at the provider: it did go out."""
    return Message.objects.filter(
        pk=c.message.pk,
        status=Message.Status.FAILED,
        error_code="campaign_cancelled",
        next_attempt_at=c.lease,
    )


def store_sent(c: Claim, fields: dict[str, object]) -> int:
    """Write the sent state; a row recorded from the provider's own echo of it gives way."""
    try:
        with transaction.atomic():
            return held(c).update(**fields)
    except IntegrityError:
        # A webhook recorded this very message (as typed on the phone) before we stored the id.
        Message.objects.filter(
            number_id=c.message.number_id,
            attempts=0,
            provider_message_id=fields["provider_message_id"],
        ).exclude(pk=c.message.pk).delete()
        return held(c).update(**fields)


def record_error(c: Claim, started: datetime, exc: ProviderError) -> str:
    """Retry, wait or fail the message as the error says; count the failure on the number."""
    code, delay = classify(c.message, exc)
    now, message = timezone.now(), c.message
    outcome = Outcome.FAILED if delay is None else Outcome.RETRY
    with transaction.atomic():
        SendAttempt.objects.create(
            message=message,
            started_at=started,
            finished_at=now,
            outcome=outcome,
            provider_status_code=exc.status,
            error_code=code,
            error_message=str(exc)[:2000],
        )
        if delay is None:
            if held(c).update(
                status=Message.Status.FAILED,
                failed_at=now,
                next_attempt_at=None,
                error_code=code,
                error_message=str(exc)[:2000],
                attempts=F("attempts") + 1,
                updated_at=now,
            ):
                events.status_changed([message])
        else:
            at = now + timedelta(seconds=delay)
            if held(c).update(next_attempt_at=at, attempts=F("attempts") + 1, updated_at=now):
                transaction.on_commit(lambda: outbox.schedule(message.pk, at))
    logger.info("send of %s: %s (%s)", message.pk, outcome, code)
    if isinstance(exc, ProviderNotFoundError):
        change_status(message.number, S.DISCONNECTED, "not_found", ConnectionEvent.Source.API)
    if not isinstance(exc, ProviderRateLimitedError):
        count_failure(message.number)
    return outcome


def classify(message: Message, exc: ProviderError) -> tuple[str, float | None]:
    """(error code, seconds until the next try) — None when the message fails now."""
    for error_class, code in PERMANENT:
        if isinstance(exc, error_class):
            return code, None
    if isinstance(exc, ProviderRateLimitedError):
        return "rate_limited", max(exc.retry_after or DEFAULT_RETRY_AFTER, 0.1)
    if not exc.retryable:
        return "provider_error", None
    tries = transient_tries(message) + 1
    if tries >= settings.SEND_MAX_ATTEMPTS:
        return "provider_unavailable", None
    return "provider_unavailable", max(backoff(tries), exc.retry_after or 0.0)


def transient_tries(message: Message) -> int:
    """Earlier tries that count towards the limit (a 429 only asked us to wait)."""
    return message.send_attempts.exclude(error_code="rate_limited").count()


def backoff(tries: int) -> float:
    """Exponential backoff with equal jitter: half fixed, half random, capped."""
    ceiling = min(
        settings.SEND_RETRY_MAX_SECONDS, settings.SEND_RETRY_BASE_SECONDS * 2 ** (tries - 1)
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


# ------------------------------------------------------------------ the number's health


def count_failure(number: Number) -> None:
    """One more consecutive failure; at the limit the number is paused and its admins told."""
    with transaction.atomic():
        locked = Number.objects.select_for_update().get(pk=number.pk)
        locked.consecutive_send_failures += 1
        pause = locked.consecutive_send_failures >= settings.PAUSE_AFTER_FAILURES
        # Counting starts again, so an operator's resume gets a fresh allowance.
        locked.consecutive_send_failures = 0 if pause else locked.consecutive_send_failures
        locked.save(update_fields=["consecutive_send_failures"])
        if pause and locked.status != S.PAUSED:
            change_status(locked, S.PAUSED, R.SEND_FAILURES, ConnectionEvent.Source.API)
            transaction.on_commit(lambda: notify.email_admins(locked, S.PAUSED))
