"""Provider health: probed by a periodic task, stored in Redis, read by the API and admin."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from providers.registry import PROVIDERS, get_gateway
from tenants.models import Tenant

from .models import Number

CACHE_KEY = "whatsapp:health:providers"
# Keep the last result well past the check interval so a stalled beat shows as stale, not empty.
TTL_SECONDS = 3600
SLOW_MS = 3000


def check_providers() -> dict[str, Any]:
    """Probe every provider once and store the result."""
    results = {}
    for name in PROVIDERS:
        probe = get_gateway(name).health()
        results[name] = {
            "reachable": probe.reachable,
            "response_time_ms": round(probe.response_ms),
            "version": probe.version or None,
            "detail": probe.detail or None,
            "last_check": timezone.now().isoformat(),
        }
    stored = {"providers": results, "last_check": timezone.now().isoformat()}
    cache.set(CACHE_KEY, stored, TTL_SECONDS)
    return stored


def overall(providers: dict[str, dict[str, Any]]) -> str:
    """healthy: all reachable and fast; down: none reachable; degraded otherwise."""
    if not providers:
        return "down"
    reachable = [p for p in providers.values() if p["reachable"]]
    if not reachable:
        return "down"
    fast = all(p["response_time_ms"] < SLOW_MS for p in reachable)
    return "healthy" if len(reachable) == len(providers) and fast else "degraded"


def counts(tenant: Tenant | None = None) -> dict[str, int]:
    """Numbers by status, for one tenant or all."""
    numbers = Number.objects.live()
    if tenant is not None:
        numbers = numbers.filter(tenant=tenant)
    by_status = dict(numbers.values_list("status").annotate(n=Count("pk")).order_by())
    total = sum(by_status.values())
    return {
        "total": total,
        "connected": by_status.get("connected", 0),
        "disconnected": total - by_status.get("connected", 0),
        "by_status": by_status,
    }


def report(tenant: Tenant | None = None) -> dict[str, Any]:
    """The GET /api/v1/health/providers/ body, from the last stored check."""
    stored = cache.get(CACHE_KEY) or {"providers": {}, "last_check": None}
    providers = {
        name: {k: v for k, v in item.items() if k != "detail"}
        for name, item in stored["providers"].items()
    }
    return {
        "status": overall(providers),
        "providers": providers,
        "instances": counts(tenant),
        "last_check": stored["last_check"],
    }
