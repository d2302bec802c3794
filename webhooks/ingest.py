"""Take one delivery: route by URL token, authenticate, parse, check the instance, store once.

The acknowledgement does the least that keeps the event (DESIGN.md "Webhooks in"): one indexed
lookup (or the route cache), hashes compared in constant time, one INSERT … ON CONFLICT, and a
wake-up that is a flag, not a broker call. Redis is never touched here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from instances.models import Number
from whatsapp_saas import safejson

from . import routes, scrub, wake
from .auth import SIGNATURE_HEADER, authentication_problem
from .models import WebhookEvent, db_column
from .normalizers import get_normalizer

security = logging.getLogger("security")
logger = logging.getLogger(__name__)

# Never the secret-bearing ones (X-Webhook-Token, Authorization): these are kept for inspection.
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Request-ID", "X-Forwarded-For", SIGNATURE_HEADER)
# Any answer but 200 stalls GreenAPI's queue for the instance for up to 24 h (reference 2.5).
ALWAYS_200 = frozenset({"greenapi"})


@dataclass(frozen=True)
class Verdict:
    """What to answer the sender, and what happened."""

    status: int
    outcome: str
    event_id: int | None = None


def receive(
    provider: str, token: str, body: bytes, headers: Mapping[str, str], remote: str = ""
) -> Verdict:
    """Everything between the raw request and the answer; processing happens later, in a task."""
    log = {"provider": provider, "remote_addr": remote}
    route = routes.route_for(token)
    problem = check(route, provider, body, headers) if route else ""
    if problem:
        # A cached route may predate a rotation: ask the database before refusing.
        route = routes.route_for(token, fresh=True)
        problem = check(route, provider, body, headers) if route else ""
    if route is None:
        # 200, so a provider pointed at a deleted number does not retry into a storm (DESIGN.md 4).
        security.warning("webhook for an unknown token", extra=log)
        return Verdict(200, "unknown_token")
    log["number_id"] = str(route.number_id)
    if problem:
        return refuse(provider, problem, log)
    verdict = accept(route, body, headers, log)
    if verdict is None:
        # The number was deleted between the lookup and the insert.
        routes.forget(token)
        security.warning("webhook for an unknown token", extra=log)
        return Verdict(200, "unknown_token")
    return verdict


def check(route: routes.Route, provider: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Why the delivery is not this number's ("" when it is): provider, secret, signature."""
    if route.provider != provider:
        return "token of another provider"
    return authentication_problem(
        get_normalizer(provider).presented_secret(headers),
        headers,
        body,
        route.secret_hashes,
        lambda: plain_secrets(route),
        window=settings.WEBHOOK_SIGNATURE_WINDOW_SECONDS,
    )


def plain_secrets(route: routes.Route) -> list[str]:
    """The number's secrets, decrypted: only for a sender that signs its bodies."""
    row = Number.objects.filter(pk=route.number_id).values_list(
        "webhook_secret", "previous_webhook_secret"
    )
    return [secret for pair in row for secret in pair if secret]


def accept(
    route: routes.Route, body: bytes, headers: Mapping[str, str], log: dict[str, str]
) -> Verdict | None:
    """Parse, check the payload's instance, store; None when the number no longer exists."""
    normalizer = get_normalizer(route.provider)
    payload = parse(body)
    try:
        if payload is None:
            event_id, _ = store(
                route,
                body,
                headers,
                name="",
                status=WebhookEvent.Status.FAILED,
                key=f"{route.number_id}:malformed:{hashlib.sha256(body).hexdigest()}",
                error="The body is not a JSON object.",
            )
            logger.warning("malformed webhook body kept as event %s", event_id)
            return Verdict(400, "malformed", event_id)
        if normalizer.instance_of(payload) not in route.instance_ids:
            return refuse(route.provider, "instance in the payload is not the token's", log)
        key = normalizer.dedupe_key(payload, body)
        event_id, duplicate = store(
            route,
            # Without `apikey` and other secrets, once the dedupe key has seen them (scrub.py).
            scrub.stored_body(payload, body),
            headers,
            name=normalizer.event_name(payload),
            key=key,
        )
    except IntegrityError:
        return None
    return Verdict(200, "duplicate" if duplicate else "accepted", event_id)


def refuse(provider: str, reason: str, log: dict[str, str]) -> Verdict:
    """A security log line and nothing stored; 403, or 200 for providers that stall on errors."""
    security.warning("webhook refused: %s", reason, extra=log)
    return Verdict(200 if provider in ALWAYS_200 else 403, "forbidden")


def parse(body: bytes) -> Mapping[str, Any] | None:
    """The body as a JSON object (nesting-limited, see whatsapp_saas.safejson), or None."""
    try:
        payload = safejson.loads(body)
    except safejson.MalformedJSON:
        return None
    return payload if isinstance(payload, Mapping) else None


def store(
    route: routes.Route,
    body: bytes,
    headers: Mapping[str, str],
    *,
    name: str,
    key: str,
    status: str = WebhookEvent.Status.RECEIVED,
    error: str = "",
) -> tuple[int, bool]:
    """Insert the event once and wake processing after commit; a repeat only counts."""
    event_id, duplicates = insert_or_count(
        {
            "provider": route.provider,
            "number_id": route.number_id,
            "tenant_id": route.tenant_id,
            "body": body,
            "headers": {h: headers[h] for h in KEPT_HEADERS if h in headers},
            "event_name": name[:64],
            "event_type": "",
            "dedupe_key": key,
            "duplicates": 0,
            "status": status,
            "error": error,
            "attempts": 0,
            "received_at": timezone.now(),
        }
    )
    if duplicates == 0 and status == WebhookEvent.Status.RECEIVED:
        transaction.on_commit(wake.wake, robust=True)
    return event_id, duplicates > 0


@cache
def insert_sql(names: tuple[str, ...]) -> str:
    """INSERT … ON CONFLICT (provider, dedupe_key) DO UPDATE duplicates + 1 RETURNING id, count."""
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    columns = ", ".join(db_column(WebhookEvent, name) for name in names)
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(names))}) "  # noqa: S608 - names from the model
        "ON CONFLICT (provider, dedupe_key) "
        f"DO UPDATE SET duplicates = {table}.duplicates + 1 RETURNING id, duplicates"
    )


def insert_or_count(values: dict[str, Any]) -> tuple[int, int]:
    """One statement: insert the row, or add one to `duplicates` of the row with its dedupe key.

    Returns (id, duplicates); 0 duplicates means this call inserted it. A single
    INSERT … ON CONFLICT needs no transaction or savepoint, which keeps the ack fast, and the
    unique constraint stays the one judge of "seen before".
    """
    meta = WebhookEvent._meta
    params = [
        meta.get_field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]
        for name, value in values.items()
    ]
    # Inside a caller's transaction (tests, scripts) a failed insert must not poison it.
    nested = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with nested, connection.cursor() as cursor:
        cursor.execute(insert_sql(tuple(values)), params)
        event_id, duplicates = cursor.fetchone()
    return int(event_id), int(duplicates)
