"""The per-number rate limiter holds across processes and respects the hard cap."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import redis
from django.conf import settings

from messaging.ratelimit import HARD_CAP_PER_SECOND, RateLimiter, spacing

WORKER = textwrap.dedent("""
    import sys, time, redis
    from messaging.ratelimit import RateLimiter
    url, key, rate, until = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    limiter = RateLimiter(redis.Redis.from_url(url))
    stamps = []
    while time.time() < until:
        if limiter.acquire(key, rate, burst=1).allowed:
            stamps.append(time.time())
    print(" ".join(f"{s:.6f}" for s in stamps))
""")


def limiter() -> RateLimiter:
    """A limiter on the test Redis database."""
    return RateLimiter(redis.Redis.from_url(settings.REDIS_URL))


def test_a_burst_is_allowed_then_the_next_send_waits_for_its_slot():
    rl = limiter()
    decisions = [rl.acquire("n1", per_minute=60, burst=3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 0.9 < decisions[-1].retry_after <= 1.0


def test_numbers_are_paced_independently():
    rl = limiter()
    assert rl.acquire("a", per_minute=1, burst=1).allowed
    assert not rl.acquire("a", per_minute=1, burst=1).allowed
    assert rl.acquire("b", per_minute=1, burst=1).allowed


def test_the_rate_is_capped_at_forty_per_second():
    assert spacing(10**6) == spacing(HARD_CAP_PER_SECOND * 60) == 1 / HARD_CAP_PER_SECOND
    rl = limiter()
    # 200 tries in one pipeline, between two readings of the Redis clock the limiter itself uses:
    # however slow this machine is, at most 1 + 40/s of the time between them may be allowed.
    pipe = rl.client.pipeline(transaction=False)
    pipe.time()
    for _ in range(200):
        rl.script(keys=["whatsapp:rate:fast"], args=[int(spacing(10**6) * 1e6), 0], client=pipe)
    pipe.time()
    first, *answers, last = pipe.execute()
    elapsed = (last[0] - first[0]) + (last[1] - first[1]) / 1e6
    allowed = sum(int(ok) for ok, _ in answers)
    assert 1 <= allowed <= 1 + elapsed * HARD_CAP_PER_SECOND


def test_two_worker_processes_together_never_exceed_the_rate():
    rate_per_minute, seconds = 600, 2.0
    until = time.time() + seconds + 0.5
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                settings.REDIS_URL,
                "shared",
                str(rate_per_minute),
                str(until),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=settings.BASE_DIR,
        )
        for _ in range(2)
    ]
    stamps = sorted(float(s) for w in workers for s in w.communicate(timeout=30)[0].split())
    assert all(w.returncode == 0 for w in workers)
    per_second = rate_per_minute / 60
    assert len(stamps) <= per_second * (stamps[-1] - stamps[0]) + 2
    assert len(stamps) >= per_second * seconds * 0.8
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert min(gaps) >= (1 / per_second) * 0.9
