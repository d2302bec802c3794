"""Deliver one event to one endpoint: claim it, sign, POST, record the attempt and the outcome."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from whatsapp_saas import metrics
from whatsapp_saas.netguard import URLNotAllowed
from whatsapp_saas.workqueue import Lease, backoff

from . import claims, signing, transport
from .models import Delivery, DeliveryAttempt

logger = logging.getLogger(__name__)
Outcome = DeliveryAttempt.Outcome

MAX_ATTEMPTS = 8
# The work queue's backoff: the n-th wait is between half and all of 10 s × 2^(n-1), at most 1 h.
FIRST_DELAY, MAX_DELAY = 10.0, 3600.0
# The 4xx answers that say "later": a timeout and rate limiting. Every other 4xx is final.
RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class Result:
    """What one attempt came to."""

    outcome: str
    error: str = ""
    code: int | None = None
    address: str = ""
    body: str = ""
    retry_after: float | None = None


def deliver(delivery_id: str) -> str:
    """Post one delivery once; "delivered", "retry", "failed", or "skipped" when not ours."""
    lease = claims.DELIVERIES.take(delivery_id)
    if lease is None:
        return "skipped"
    delivery = lease.rows().select_related("endpoint").get()
    started_at, clock = timezone.now(), time.monotonic()
    result = attempt(delivery, started_at)
    return record(lease, delivery, result, started_at, int((time.monotonic() - clock) * 1000))


def attempt(delivery: Delivery, at: datetime) -> Result:
    """Sign and POST; a refused address or a final answer fails at once."""
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        return Result(Outcome.FAILED, "endpoint disabled")
    body = signing.body_of(delivery)
    try:
        answer = transport.post(
            endpoint.url, body, signing.headers_for(endpoint.secret, delivery, body, at)
        )
    except URLNotAllowed as exc:
        return Result(Outcome.FAILED, f"address refused: {exc}")
    except transport.Unreachable as exc:
        return Result(Outcome.RETRY, str(exc), address=exc.address)
    return judge(answer)


def judge(answer: transport.Answer) -> Result:
    """2xx delivered; 4xx other than 408 and 429 failed for good; anything else retried."""
    if 200 <= answer.status < 300:
        return Result(Outcome.DELIVERED, "", answer.status, answer.address, answer.body)
    final = 400 <= answer.status < 500 and answer.status not in RETRYABLE_4XX
    return Result(
        Outcome.FAILED if final else Outcome.RETRY,
        f"HTTP {answer.status}",
        answer.status,
        answer.address,
        answer.body,
        answer.retry_after,
    )


def record(
    lease: Lease[Delivery],
    delivery: Delivery,
    result: Result,
    started_at: datetime,
    duration_ms: int,
) -> str:
    """Write the attempt and the new state, fenced on our lease (given up with it); retry later."""
    attempts = delivery.attempts + 1
    outcome = result.outcome
    if outcome == Outcome.RETRY and attempts >= MAX_ATTEMPTS:
        outcome = Outcome.FAILED
    now, delay = timezone.now(), retry_delay(attempts, result.retry_after)
    fields: dict[str, Any] = {
        "attempts": attempts,
        "last_response_code": result.code,
        "last_error": result.error[:2000],
        "next_attempt_at": now + timedelta(seconds=delay) if outcome == Outcome.RETRY else None,
    }
    if outcome != Outcome.RETRY:
        fields["status"] = outcome
    if outcome == Outcome.DELIVERED:
        fields["delivered_at"] = now
    with transaction.atomic():
        if not lease.finish(**fields):
            logger.warning("webhook delivery %s: lease lost, outcome not recorded", delivery.pk)
            return "skipped"
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=attempts,
            started_at=started_at,
            duration_ms=duration_ms,
            address=result.address,
            response_code=result.code,
            response_body=result.body,
            error=result.error[:2000],
            outcome=outcome,
        )
    metrics.tenant_delivery(str(outcome))
    if outcome == Outcome.RETRY:
        claims.enqueue(str(delivery.pk), delay)
    elif outcome == Outcome.FAILED:
        logger.info("webhook delivery %s failed for good: %s", delivery.pk, result.error)
    return str(outcome)


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: what Retry-After asks, else backoff; never over an hour."""
    if retry_after is not None:
        return min(max(retry_after, 1.0), MAX_DELAY)
    return backoff(attempts, FIRST_DELAY, MAX_DELAY)
