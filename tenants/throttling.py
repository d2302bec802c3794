"""Throttling per API key, exact across every web process: one atomic moving window in Redis.

DRF's SimpleRateThrottle reads the request history from the cache, appends and writes it back, so
concurrent requests on several gunicorn workers overwrite each other's updates (issue 14: 700
requests at 600/min all answered 200). `limits`' moving window does the check and the append in one
Lua script, with the same meaning: at most N requests in any window of the period.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quota:
    """Where a client stands: its limit, what is left, and seconds until the window frees a slot."""

    limit: int
    remaining: int
    reset: int


@cache
def limiter(url: str, prefix: str) -> MovingWindowRateLimiter:
    """One limiter (and Redis connection pool) per process."""
    storage = RedisStorage(url, key_prefix=prefix, socket_connect_timeout=2, socket_timeout=2)
    return MovingWindowRateLimiter(storage)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Limit requests per API key (API_THROTTLE_RATE); anonymous requests per client address."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        """Key the window on the API key's prefix, or the address when there is no key."""
        key = request.auth
        ident = key.prefix if isinstance(key, ApiKey) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: APIView) -> bool:
        """Take one slot atomically; the quota is kept on the request for the response headers."""
        limit, period = self.parse_rate(self.rate)
        if limit is None or period is None:
            return True
        item = RateLimitItemPerSecond(limit, period)
        ident = self.get_cache_key(request, view)
        prefix = f"{settings.CACHES['default'].get('KEY_PREFIX', 'wa')}:throttle"
        # Redis down raises: the API answers 503 service_unavailable (API.md), never unthrottled.
        window = limiter(settings.REDIS_URL, prefix)
        allowed = window.hit(item, ident)
        stats = window.get_window_stats(item, ident)
        self.quota = Quota(
            limit=limit,
            remaining=max(stats.remaining, 0),
            reset=max(math.ceil(stats.reset_time - time.time()), 0),
        )
        request._request.api_quota = self.quota  # type: ignore[attr-defined]
        return allowed

    def wait(self) -> float | None:
        """Seconds until the window has a free slot (for Retry-After)."""
        quota: Quota | None = getattr(self, "quota", None)
        return None if quota is None else float(max(quota.reset, 1))


class RateLimitHeadersMiddleware:
    """Tell API clients their quota: RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        quota: Quota | None = getattr(request, "api_quota", None)
        if quota is not None:
            response["RateLimit-Limit"] = str(quota.limit)
            response["RateLimit-Remaining"] = str(quota.remaining)
            response["RateLimit-Reset"] = str(quota.reset)
        return response
