"""Per-minute counts in Redis for the few figures no table holds (refused webhooks, unknown tokens).

The health page reads them for its last hour and day; Prometheus has the same counts as counters.
Counting never fails the caller: with Redis down the figure is simply missing for that minute.
"""

from __future__ import annotations

import logging
import time
from functools import cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "wa:stats"
KEEP_SECONDS = 26 * 3600
# Outcomes of a provider webhook that leave no row behind.
WEBHOOK_OUTCOMES = frozenset({"refused", "unknown_token", "too_large"})


@cache
def client(url: str) -> redis.Redis:
    """A Redis client with short timeouts: a count is never worth a slow answer."""
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def minute(at: float | None = None) -> int:
    """The Unix minute of `at` (now by default)."""
    return int((time.time() if at is None else at) // 60)


def key(name: str, at_minute: int) -> str:
    """The Redis key of one name's count in one minute."""
    return f"{PREFIX}:{name}:{at_minute}"


def count(name: str, amount: int = 1) -> None:
    """Add `amount` to this minute's count of `name`."""
    name_key = key(name, minute())
    try:
        pipe = client(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incrby(name_key, amount)
        pipe.expire(name_key, KEEP_SECONDS)
        pipe.execute()
    except redis.RedisError as exc:
        logger.debug("stats count %s skipped: %s", name, exc)


def series(name: str, minutes: int, end_minute: int | None = None) -> list[int]:
    """Counts of `name` for the last `minutes` minutes, oldest first (0 where none or unknown)."""
    last = minute() if end_minute is None else end_minute
    keys = [key(name, m) for m in range(last - minutes + 1, last + 1)]
    try:
        raw = client(settings.REDIS_URL).mget(keys)
    except redis.RedisError as exc:
        logger.info("stats of %s unavailable: %s", name, exc)
        return [0] * minutes
    return [int(value or 0) for value in raw]


def total(name: str, minutes: int) -> int:
    """The sum of `name` over the last `minutes` minutes."""
    return sum(series(name, minutes))
