"""Throttling per API key, counted in the shared Redis cache so every web process agrees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Limit requests per API key (API_THROTTLE_RATE); anonymous requests per client address."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        """Key the counter on the API key's prefix, or the address when there is no key."""
        key = request.auth
        ident = key.prefix if isinstance(key, ApiKey) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
