"""One step of a lane: decide what to do with the number's next message, send it, classify errors.

The lane (lanes.py) holds the number and calls `step` for its oldest due message; a step either
settles the message, leaves it for later, or tells the lane to pause (no send slot, a 429, an open
circuit). Errors say whether a retry can help: 400/401/403/422 and "not on WhatsApp" fail at once,
404 fails and marks the number disconnected, 408/5xx/timeouts retry with the one backoff, 429
waits for its Retry-After.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.utils import timezone
from urllib3.exceptions import NewConnectionError

from instances import services as numbers
from instances.models import ConnectionEvent, Number
from providers.errors import (
    ProviderAuthenticationError,
    ProviderCircuitOpenError,
    ProviderConnectionError,
    ProviderError,
    ProviderInvalidRequestError,
    ProviderNotFoundError,
    ProviderQuotaExceededError,
    ProviderRateLimitedError,
    ProviderTimeoutError,
    RecipientNotOnWhatsAppError,
)
from providers.events import ConnectionStatus as S
from providers.types import SendResult, TextMessage
from whatsapp_saas import metrics
from whatsapp_saas.workqueue import Lease, backoff

from . import inflight, outbox, pacing, recording
from .models import Campaign, Message, SendAttempt, SendLane

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


@dataclass(frozen=True)
class Step:
    """What happened to the message, and how long the whole lane must wait (0: go on)."""

    outcome: str
    pause: float = 0.0


def step(lease: Lease[SendLane], number: Number, message: Message) -> Step:
    """Resolve, fail, pace or send the lane's next message."""
    if message.in_flight_since is not None:
        resolved = inflight.resolve(lease, number, message)
        if resolved != "unsent":
            return Step(resolved)
        message.in_flight_since = None
    if message.expires_at and message.expires_at <= timezone.now():
        return Step(fail(lease, message, outbox.EXPIRED))
    campaign = message.campaign
    if campaign is not None and campaign.status == Campaign.Status.CANCELLED:
        return Step(fail(lease, message, outbox.CANCELLED))
    if message.attempts >= settings.SEND_MAX_ATTEMPTS and (
        transient_tries(message) >= settings.SEND_MAX_ATTEMPTS
    ):
        # Tries whose outcome stayed unknown (worker died, timeouts) count as well.
        return Step(fail(lease, message, ("provider_unavailable", "The provider did not answer.")))
    if campaign is not None and (wait := pacing.campaign_wait(campaign)) > 0:
        # After an outage the campaign's messages are all due: spread them out again.
        with lease.fenced():
            outbox.respace(campaign, timezone.now() + timedelta(seconds=wait))
        return Step("campaign_paced")
    wait = pacing.take_slot(number)
    if wait > 0:
        return Step("paced", pause=wait)
    return attempt(lease, number, message)


def fail(lease: Lease[SendLane], message: Message, reason: tuple[str, str]) -> str:
    """Fail a message that never reached the provider."""
    with lease.fenced():
        outbox.fail_unsent(Message.objects.filter(pk=message.pk), reason)
    return Outcome.FAILED


def attempt(lease: Lease[SendLane], number: Number, message: Message) -> Step:
    """Commit the attempt in flight, call the provider once, record what it said."""
    started = recording.start(lease, message, inflight.fingerprint_of(message))
    if started is None:
        return Step("skipped")
    if message.campaign is not None:
        pacing.campaign_sent(message.campaign)
    try:
        result = call_provider(message)
    except ProviderCircuitOpenError as exc:
        # No request left this process: not a try, so no attempt and no failure on the number.
        wait = exc.retry_after or DEFAULT_RETRY_AFTER
        recording.withdraw(message, started, timezone.now() + timedelta(seconds=wait))
        metrics.send_outcome(number.provider, "circuit_open")
        return Step("circuit_open", pause=wait)
    except ProviderError as exc:
        return record_error(number, message, started, exc)
    metrics.send_outcome(number.provider, Outcome.SENT)
    outcome = recording.sent(message, started, result.provider_message_id, "answer")
    return Step(outcome)


def call_provider(message: Message) -> SendResult:
    """Send through the number's gateway (registry, circuit breaker and timeouts included)."""
    gateway, ref = numbers.gateway_for(message.number), message.number.ref
    request = inflight.provider_request(message)
    if isinstance(request, TextMessage):
        return gateway.send_text(ref, request)
    return gateway.send_media(ref, request)


def record_error(
    number: Number, message: Message, started: SendAttempt, exc: ProviderError
) -> Step:
    """Retry, wait or fail the message as the error says; count the failure on the number."""
    code, delay = classify(message, exc)
    if delay is None:
        outcome = recording.failed(message, started, exc, code)
    else:
        at = timezone.now() + timedelta(seconds=delay)
        outcome = recording.retry(message, started, exc, code, at, maybe_sent=maybe_sent(exc))
    logger.info("send of %s: %s (%s)", message.pk, outcome, code)
    limited = isinstance(exc, ProviderRateLimitedError)
    metrics.send_outcome(number.provider, "rate_limited" if limited else outcome)
    if isinstance(exc, ProviderNotFoundError):
        numbers.change_status(number, S.DISCONNECTED, "not_found", ConnectionEvent.Source.API)
    if limited:
        return Step(outcome, pause=delay or DEFAULT_RETRY_AFTER)
    numbers.send_failed(number)
    return Step(outcome)


def classify(message: Message, exc: ProviderError) -> tuple[str, float | None]:
    """(error code, seconds until the next try) — None when the message fails now."""
    for error_class, code in PERMANENT:
        if isinstance(exc, error_class):
            return code, None
    if isinstance(exc, ProviderRateLimitedError):
        return "rate_limited", max(exc.retry_after or DEFAULT_RETRY_AFTER, 0.1)
    if not exc.retryable:
        return "provider_error", None
    tries = transient_tries(message)
    if tries >= settings.SEND_MAX_ATTEMPTS and not maybe_sent(exc):
        return "provider_unavailable", None
    delay = backoff(tries, settings.SEND_RETRY_BASE_SECONDS, settings.SEND_RETRY_MAX_SECONDS)
    return "provider_unavailable", max(delay, exc.retry_after or 0.0)


def transient_tries(message: Message) -> int:
    """Tries since the message was last queued that count towards the limit (not 429 waits)."""
    tries = Message.objects.filter(pk=message.pk).values_list("attempts", flat=True).first() or 0
    latest = message.send_attempts.order_by("-started_at", "-pk").values_list("error_code")[:tries]
    return sum(1 for (code,) in latest if code != "rate_limited")


def maybe_sent(exc: ProviderError) -> bool:
    """Whether the request may have been performed although no answer came (read timeout, drop).

    A connect timeout or a refused connection never reached the provider; anything with an HTTP
    status is the provider's own answer.
    """
    if not isinstance(exc, ProviderTimeoutError | ProviderConnectionError):
        return False
    cause = exc.__cause__
    if isinstance(cause, requests.ConnectTimeout):
        return False
    reason = getattr(cause.args[0], "reason", None) if cause and cause.args else None
    return not isinstance(reason, NewConnectionError) and not isinstance(cause, NewConnectionError)
