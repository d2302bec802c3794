"""Per-number pacing: a token from the shared rate limiter, or a place in the number's line.

A denied send must not simply retry after `retry_after`: every waiting message of the number
would wake at the same instant and all but one would be denied again. Denied messages therefore
take the next free wake-up time from a per-number counter in Redis, one limiter interval apart,
and still take a limiter token when they wake, so the limiter alone decides what goes out.
"""

from __future__ import annotations

import time
from functools import cache

import redis
from django.conf import settings

from instances.models import Number
from providers.http import get_redis

from .models import Campaign
from .ratelimit import HARD_CAP_PER_SECOND, RateLimiter

# A wait this short is slept in the task rather than rescheduled.
SHORT_WAIT = 0.25
# Wakes slightly after the slot, so microsecond rounding never makes a woken message early.
WAKE_PAD = 0.02

_NEXT_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or 0), now + tonumber(ARGV[1]))
local after = slot + tonumber(ARGV[2])
redis.call('SET', KEYS[1], after, 'PX', math.ceil((after - now) / 1000) + 1000)
return slot - now
"""


@cache
def limiter(url: str) -> RateLimiter:
    """The shared limiter on this Redis."""
    return RateLimiter(get_redis(url))


@cache
def line_script(url: str) -> redis.commands.core.Script:
    """The wake-up slot dispenser on this Redis."""
    return get_redis(url).register_script(_NEXT_SLOT)


def interval(number: Number) -> float:
    """Seconds between two sends of this number at its rate (capped at 40 per second)."""
    per_minute = min(max(number.send_rate_per_minute, 1), HARD_CAP_PER_SECOND * 60)
    return 60.0 / per_minute


def wait_for_slot(number: Number) -> float:
    """0 when this send may go now (a token was taken); otherwise seconds until it should wake."""
    rl = limiter(settings.REDIS_URL)
    decision = rl.acquire(str(number.pk), number.send_rate_per_minute)
    if decision.allowed:
        return 0.0
    if decision.retry_after <= SHORT_WAIT:
        sleep(decision.retry_after)
        decision = rl.acquire(str(number.pk), number.send_rate_per_minute)
        if decision.allowed:
            return 0.0
    return place_in_line(number, decision.retry_after)


def campaign_wait(campaign: Campaign) -> float:
    """0 when the campaign's delay since its previous send has passed, else seconds to wait.

    The schedule already spaces a campaign's messages, but after a worker outage every overdue
    message is due at once: this keeps the delay a true minimum between two sends.
    """
    if campaign.delay_seconds <= 0:
        return 0.0
    decision = limiter(settings.REDIS_URL).acquire_every(
        f"campaign:{campaign.pk}", campaign.delay_seconds
    )
    return 0.0 if decision.allowed else decision.retry_after + WAKE_PAD


def place_in_line(number: Number, earliest: float) -> float:
    """The next free wake-up of this number, at least `earliest` seconds away, then the next."""
    waited = line_script(settings.REDIS_URL)(
        keys=[f"whatsapp:line:{number.pk}"],
        args=[int(earliest * 1_000_000), int(interval(number) * 1_000_000)],
    )
    return int(waited) / 1_000_000 + WAKE_PAD


def sleep(seconds: float) -> None:
    """Block this worker briefly."""
    time.sleep(seconds)
