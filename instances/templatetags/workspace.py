"""Banners on every page of a workspace: provider down, numbers needing attention, quota."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.cache import cache
from redis.exceptions import RedisError

from instances import health
from instances.models import Number
from instances.presentation import BAN_REVIEW_URL, next_step
from providers.events import ConnectionStatus as S
from providers.registry import PROVIDERS
from tenants.models import Tenant

register = template.Library()
ATTENTION = (S.PAUSED, S.BANNED, S.LOGGED_OUT)


@register.inclusion_tag("instances/banners.html")
def workspace_banners(tenant: Tenant | None, show_quota: bool = False) -> dict[str, Any]:
    """What the tenant must know now; one query for its numbers plus the stored health check."""
    if tenant is None:
        return {}
    numbers = list(
        Number.objects.live().filter(tenant=tenant).values_list("pk", "name", "provider", "status")
    )
    down = unreachable_providers()
    return {
        "down": sorted(
            {PROVIDERS[p].label for _, _, p, _ in numbers if p in down and p in PROVIDERS}
        ),
        "attention": [
            {"id": pk, "name": name, "status": status}
            for pk, name, _, status in numbers
            if status in ATTENTION
        ],
        "quota_reached": show_quota and len(numbers) >= tenant.max_numbers,
        "max_numbers": tenant.max_numbers,
        "review_url": BAN_REVIEW_URL,
    }


def unreachable_providers() -> set[str]:
    """Providers whose last stored health check could not reach them."""
    try:
        stored = cache.get(health.CACHE_KEY) or {}
    except (RedisError, OSError):
        return set()  # without Redis there is no stored check to show; the page still renders
    return {name for name, probe in stored.get("providers", {}).items() if not probe["reachable"]}


@register.filter
def link_label(status: str) -> str:
    """The connect link's words for a number in this status ("" when it needs no linking)."""
    step = next_step(status)
    return step.label if step.action == "link" else ""
