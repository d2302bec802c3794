"""Per-number send pacing shared by every worker: GCRA, done atomically inside Redis.

GCRA (the generic cell rate algorithm) keeps one timestamp per number, the theoretical arrival
time of the next message; a Lua script reads and advances it in one step, using Redis's own clock,
so any number of workers on any hosts together never exceed the rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

HARD_CAP_PER_SECOND = 40
DEFAULT_BURST = 3

_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return {0, allow_at - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
"""

_PEEK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
return math.max(tat - tonumber(ARGV[1]) - now, 0)
"""


def spacing(per_minute: int) -> float:
    """Seconds between two slots at `per_minute`, never less than the hard cap allows."""
    return 60 / min(max(per_minute, 1), HARD_CAP_PER_SECOND * 60)


@dataclass(frozen=True)
class Decision:
    """Whether a send may go now, else how long to wait."""

    allowed: bool
    retry_after: float


class RateLimiter:
    """A token-bucket-equivalent limiter per key (a number), shared through Redis."""

    def __init__(self, client: redis.Redis, prefix: str = "whatsapp:rate") -> None:
        self.client = client
        self.prefix = prefix
        self.script = client.register_script(_GCRA)
        self.peek_script = client.register_script(_PEEK)

    def acquire(self, key: str, per_minute: int, burst: int = DEFAULT_BURST) -> Decision:
        """Take one send slot for `key` at `per_minute` (capped at 40/s) with a small burst."""
        return self.acquire_every(key, spacing(per_minute), burst)

    def acquire_every(self, key: str, interval: float, burst: int = 1) -> Decision:
        """Take one slot for `key`, slots at least `interval` seconds apart (after a burst)."""
        interval_us = max(int(interval * 1_000_000), 1)
        tolerance_us = interval_us * (max(burst, 1) - 1)
        allowed, wait_us = self.script(
            keys=[f"{self.prefix}:{key}"], args=[interval_us, tolerance_us]
        )
        return Decision(bool(allowed), int(wait_us) / 1_000_000)

    def wait(self, key: str, interval: float, burst: int = 1) -> float:
        """Seconds until `acquire_every` would allow `key`, taking nothing."""
        tolerance_us = max(int(interval * 1_000_000), 1) * (max(burst, 1) - 1)
        return int(self.peek_script(keys=[f"{self.prefix}:{key}"], args=[tolerance_us])) / 1e6

    def reset(self, key: str) -> None:
        """Forget a key's history (a number deleted or its rate changed)."""
        self.client.delete(f"{self.prefix}:{key}")
