"""Routing cache: resolve a webhook's number from Redis without a database query when warm."""

from __future__ import annotations

from typing import TypedDict

from django.core.cache import cache

from .models import Number, hash_token

TTL_SECONDS = 3600


class Route(TypedDict):
    """What a webhook needs to know about its number before touching the database."""

    number_id: str
    tenant_id: str
    provider: str
    instance_name: str


def instance_key(instance_name: str) -> str:
    """Cache key by instance name (the name providers put in their payloads)."""
    return f"whatsapp:instance:{instance_name}"


def token_key(token_hash: str) -> str:
    """Cache key by the hash of the webhook URL token (the token itself is never a key)."""
    return f"whatsapp:token:{token_hash}"


def route_of(number: Number) -> Route:
    """The cached view of a number."""
    return Route(
        number_id=str(number.pk),
        tenant_id=str(number.tenant_id),
        provider=number.provider,
        instance_name=number.instance_name,
    )


def warm(number: Number) -> None:
    """Cache both lookups for an hour."""
    route = route_of(number)
    cache.set_many(
        {instance_key(number.instance_name): route, token_key(number.webhook_token_hash): route},
        TTL_SECONDS,
    )


def drop(number: Number) -> None:
    """Forget a number (deletion, token or secret rotation)."""
    cache.delete_many([instance_key(number.instance_name), token_key(number.webhook_token_hash)])


def resolve_token(token: str) -> Route | None:
    """The route for a webhook URL token: cache first, then the database (and re-warm)."""
    token_hash = hash_token(token)
    return resolve(token_key(token_hash), webhook_token_hash=token_hash)


def resolve_instance(instance_name: str) -> Route | None:
    """The route for an instance name: cache first, then the database (and re-warm)."""
    return resolve(instance_key(instance_name), instance_name=instance_name)


def resolve(key: str, **lookup: str) -> Route | None:
    """A cached route, or the live number matching `lookup` (whose routes are then cached)."""
    route: Route | None = cache.get(key)
    if route is not None:
        return route
    number = Number.objects.live().filter(**lookup).first()
    if number is None:
        return None
    warm(number)
    return route_of(number)
