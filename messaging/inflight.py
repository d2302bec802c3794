"""Exactly once: resolve a message whose last attempt may have reached the provider unanswered.

A worker commits its SendAttempt as in flight before the provider call. If the worker dies during
the call (or the call times out or its connection drops), nobody knows whether the provider sent
the message. The lane that next reaches it looks at the provider before sending again: the send
echo (Evolution `send.message`, GreenAPI `outgoingAPIMessageReceived`, stored as SentEcho when
no message had its id yet), then the provider's history (`find_sent`). A candidate matches on
number, chat and body fingerprint; one already attributed to a message never matches (the same
text may go to one chat twice), and one that could belong to two unresolved messages resolves
neither. Found: the message is `sent` with that id and no second call. Not found: it waits for
the grace period (SEND_IN_FLIGHT_GRACE_SECONDS), then may be sent again.

The residual risk: a provider that neither echoes nor keeps history, or an echo that never comes,
means a send whose answer was lost goes out again after the grace period.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from instances.models import Number
from instances.services import gateway_for
from providers.base import jid_digits
from providers.errors import ProviderError
from providers.types import MediaKind, MediaMessage, TextMessage
from whatsapp_saas import metrics
from whatsapp_saas.workqueue import Lease

from . import recording
from .models import Message, SendAttempt, SendLane, SentEcho

logger = logging.getLogger(__name__)
Outcome = SendAttempt.Outcome
# Our clock and the provider's may differ a little: history is asked from this far back.
HISTORY_PAD = timedelta(seconds=60)
# An echo is stored by another process, on the same clock: a small pad suffices.
ECHO_PAD = timedelta(seconds=2)


def provider_request(message: Message) -> TextMessage | MediaMessage:
    """What the gateway is asked to send for this message."""
    if message.type == Message.Type.TEXT:
        return TextMessage(to=message.recipient, text=message.text)
    return MediaMessage(
        to=message.recipient,
        url=message.media_url,
        kind=MediaKind(message.type),
        caption=message.caption,
        file_name=message.file_name,
        mime_type=message.mime_type,
    )


def fingerprint_of(message: Message) -> str:
    """The body fingerprint the provider's echo or history will show once the message is sent.

    The gateway's, not ours: audio loses its caption, GreenAPI types a file by its extension.
    """
    return gateway_for(message.number).sent_fingerprint(provider_request(message))


def grace_seconds(number: Number) -> float:
    """How long an in-flight send is looked for before it may be sent again."""
    delay = gateway_for(number).history_delay_seconds
    return max(float(settings.SEND_IN_FLIGHT_GRACE_SECONDS), delay)


def in_flight(message: Message) -> SendAttempt | None:
    """The message's attempt still in flight, if any."""
    return message.send_attempts.filter(outcome=Outcome.IN_FLIGHT).order_by("-started_at").first()


def resolve(lease: Lease[SendLane], number: Number, message: Message) -> str:
    """ "sent" (found at the provider), "waiting" (not yet found) or "unsent" (may send again)."""
    attempt = in_flight(message)
    if attempt is None:
        recording.settle(message)
        return "unsent"
    found, by = from_echo(number, message, attempt), SendAttempt.Resolution.ECHO
    if not found:
        found, by = from_history(number, message, attempt), SendAttempt.Resolution.HISTORY
    if found:
        logger.info("message %s found at the provider by its %s", message.pk, by)
        outcome = recording.sent(message, attempt, found, by)
        if outcome == Outcome.SENT:
            metrics.duplicate_prevented(number.provider)
        return outcome
    recheck = attempt.started_at + timedelta(seconds=grace_seconds(number))
    if timezone.now() < recheck:
        with lease.fenced():
            Message.objects.filter(pk=message.pk, in_flight_since__isnull=False).update(
                next_attempt_at=recheck
            )
        return "waiting"
    with lease.fenced():
        recording.unconfirmed(message, attempt)
    return "unsent"


def from_echo(number: Number, message: Message, attempt: SendAttempt) -> str:
    """The id of a stored, unattributed echo of this send; "" when none matches unambiguously."""
    echoes = (
        SentEcho.objects.filter(
            number=number,
            chat=message.recipient,
            fingerprint=attempt.fingerprint,
            received_at__gte=attempt.started_at - ECHO_PAD,
        )
        .exclude(Exists(attributed(number)))
        .order_by("received_at")
    )
    for echo in echoes:
        if not contested(number, message, attempt.fingerprint, echo.received_at + ECHO_PAD):
            return echo.provider_message_id
    return ""


def from_history(number: Number, message: Message, attempt: SendAttempt) -> str:
    """The id of an unattributed entry of the provider's history for this send; "" if none."""
    since = attempt.started_at - HISTORY_PAD
    try:
        records = gateway_for(number).find_sent(number.ref, message.recipient, since)
    except ProviderError as exc:
        logger.info("history of %s unavailable: %s", number.instance_name, exc)
        return ""
    matching = [
        r
        for r in records
        if r.fingerprint == attempt.fingerprint and jid_digits(r.to) == message.recipient
    ]
    used = taken_ids(number, [r.provider_message_id for r in matching])
    for record in sorted(matching, key=lambda r: r.sent_at or since):
        if record.provider_message_id in used:
            continue
        seen = (record.sent_at or since) + HISTORY_PAD
        if not contested(number, message, attempt.fingerprint, seen):
            return record.provider_message_id
    return ""


def attributed(number: Number) -> QuerySet[Message]:
    """Messages of the number that already carry the echo's provider id."""
    return Message.objects.filter(
        number=number, provider_message_id=OuterRef("provider_message_id")
    )


def taken_ids(number: Number, ids: Iterable[str]) -> set[str]:
    """Which of these provider ids a message of the number already has."""
    return set(
        Message.objects.filter(number=number, provider_message_id__in=list(ids)).values_list(
            "provider_message_id", flat=True
        )
    )


def contested(number: Number, message: Message, fingerprint: str, before: datetime) -> bool:
    """Whether another unresolved message could own an entry seen at `before` (then: neither)."""
    return (
        SendAttempt.objects.filter(
            outcome=Outcome.IN_FLIGHT,
            fingerprint=fingerprint,
            started_at__lte=before,
            message__number=number,
            message__recipient=message.recipient,
            message__status=Message.Status.QUEUED,
        )
        .exclude(message=message)
        .exists()
    )
