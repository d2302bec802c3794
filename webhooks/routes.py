"""A webhook's number by its URL token: one indexed query, or a short in-process cache of it.

The cache holds what authentication needs (ids, instance names, secret hashes), never a secret,
and only for tokens that exist. It is safe to be a few seconds stale: a failed authentication or
a number gone from the database always asks the database again (ingest.receive), so a rotated
secret is accepted at once, and a deleted number's events are ignored by processing until the
entry expires. WEBHOOK_ROUTE_CACHE_SECONDS = 0 turns it off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection

from instances.models import Number, hash_secret

from .models import db_column

MAX_ENTRIES = 50_000


@dataclass(frozen=True)
class Route:
    """What the acknowledgement needs to know about a number."""

    number_id: Any
    tenant_id: Any
    provider: str
    instance_ids: frozenset[str]
    secret_hashes: tuple[str, ...]


_cache: dict[str, tuple[float, Route]] = {}


@cache
def lookup_sql() -> str:
    """SELECT the route columns of the live number with a token hash (a unique index)."""
    names = (
        "id",
        "tenant",
        "provider",
        "instance_name",
        "provider_instance_id",
        "webhook_secret_hash",
        "previous_webhook_secret_hash",
    )
    columns = ", ".join(db_column(Number, name) for name in names)
    table = connection.ops.quote_name(Number._meta.db_table)
    return (
        f"SELECT {columns} FROM {table} "  # noqa: S608 - names from the model
        f"WHERE {db_column(Number, 'webhook_token_hash')} = %s "
        f"AND {db_column(Number, 'deletion_requested_at')} IS NULL"
    )


def route_for(token: str, *, fresh: bool = False) -> Route | None:
    """The route of a URL token; `fresh` skips (and refreshes) the cache."""
    token_hash = hash_secret(token)
    ttl = settings.WEBHOOK_ROUTE_CACHE_SECONDS
    now = time.monotonic()
    if ttl > 0 and not fresh:
        cached = _cache.get(token_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
    route = query(token_hash)
    if route is None:
        _cache.pop(token_hash, None)
    elif ttl > 0:
        if len(_cache) >= MAX_ENTRIES:
            _cache.clear()
        _cache[token_hash] = (now + ttl, route)
    return route


def query(token_hash: str) -> Route | None:
    """The route from the database."""
    with connection.cursor() as cursor:
        cursor.execute(lookup_sql(), [token_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    number_id, tenant_id, provider, name, provider_id, current, previous = row
    return Route(
        number_id=number_id,
        tenant_id=tenant_id,
        provider=provider,
        instance_ids=frozenset(n for n in (name, provider_id) if n),
        secret_hashes=tuple(h for h in (current, previous) if h),
    )


def forget(token: str) -> None:
    """Drop a token's cached route (this process only)."""
    _cache.pop(hash_secret(token), None)


def forget_all() -> None:
    """Drop every cached route (this process only)."""
    _cache.clear()
