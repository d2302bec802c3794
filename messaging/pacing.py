"""Pacing of a lane: the number's send slots from the shared limiter, and campaign delays.

The lane is its number's only sender, so it can wait exactly: a gap of at most SHORT_WAIT is
slept in the worker, a longer one hands the lane back scheduled for the instant the next slot is
free. No message is released and tried again against the limiter.
"""

from __future__ import annotations

import time
from functools import cache

from django.conf import settings

from instances.models import Number
from providers.http import get_redis
from whatsapp_saas import metrics

from .models import Campaign
from .ratelimit import RateLimiter

# A wait this short is slept in the worker rather than handing the lane back.
SHORT_WAIT = 0.25
# Sleeps end slightly after the slot, so microsecond rounding never makes a try early.
WAKE_PAD = 0.002


@cache
def limiter(url: str) -> RateLimiter:
    """The shared limiter on this Redis."""
    return RateLimiter(get_redis(url))


def take_slot(number: Number) -> float:
    """0 once a send slot of the number is taken (short gaps slept); else seconds to the next."""
    rl, slept = limiter(settings.REDIS_URL), 0.0
    for _ in range(4):
        decision = rl.acquire(str(number.pk), number.send_rate_per_minute)
        if decision.allowed:
            if slept:
                metrics.pacing_wait(number.provider, slept)
            return 0.0
        if decision.retry_after > SHORT_WAIT:
            break
        sleep(decision.retry_after + WAKE_PAD)
        slept += decision.retry_after + WAKE_PAD
    wait = decision.retry_after + WAKE_PAD
    # The lane is handed back for `wait`: the send's whole wait is counted now, once.
    metrics.pacing_wait(number.provider, slept + wait)
    return wait


def campaign_wait(campaign: Campaign) -> float:
    """Seconds until the campaign may send again (its delay is a true minimum); takes nothing.

    The schedule already spaces a campaign's messages, but after an outage every overdue message
    is due at once: this keeps the delay between two sends.
    """
    if campaign.delay_seconds <= 0:
        return 0.0
    return limiter(settings.REDIS_URL).wait(f"campaign:{campaign.pk}", campaign.delay_seconds)


def campaign_sent(campaign: Campaign) -> None:
    """Start the campaign's delay: call it when one of its messages goes to the provider."""
    if campaign.delay_seconds > 0:
        limiter(settings.REDIS_URL).acquire_every(f"campaign:{campaign.pk}", campaign.delay_seconds)


def sleep(seconds: float) -> None:
    """Block this worker briefly (the lane keeps its lease)."""
    time.sleep(seconds)
