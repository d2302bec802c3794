"""Take one delivery: route by URL token, authenticate, parse, check the instance, store once."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from instances import routing
from instances.models import Number
from whatsapp_saas import safejson

from .auth import SIGNATURE_HEADER, authentication_problem
from .models import WebhookEvent
from .normalizers import get_normalizer

security = logging.getLogger("security")
logger = logging.getLogger(__name__)

# Never the secret-bearing ones (X-Webhook-Token, Authorization): these are kept for inspection.
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Request-ID", "X-Forwarded-For", SIGNATURE_HEADER)
NUMBER_FIELDS = (
    "id",
    "tenant_id",
    "provider",
    "instance_name",
    "provider_instance_id",
    "webhook_secret",
    "previous_webhook_secret",
)


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
    number = number_for(token)
    log = {"provider": provider, "remote_addr": remote}
    if number is None:
        # 200, so a provider pointed at a deleted number does not retry into a storm (DESIGN.md 4).
        security.warning("webhook for an unknown token", extra=log)
        return Verdict(200, "unknown_token")
    log["number_id"] = str(number.pk)
    if number.provider != provider:
        return refuse("token of another provider", log)
    normalizer = get_normalizer(provider)
    problem = authentication_problem(
        normalizer.presented_secret(headers),
        headers,
        body,
        [number.webhook_secret, number.previous_webhook_secret],
        window=settings.WEBHOOK_SIGNATURE_WINDOW_SECONDS,
    )
    if problem:
        return refuse(problem, log)
    payload = parse(body)
    if payload is None:
        event_id, _ = store(
            number,
            body,
            headers,
            name="",
            status=WebhookEvent.Status.FAILED,
            key=f"{number.pk}:malformed:{hashlib.sha256(body).hexdigest()}",
            error="The body is not a JSON object.",
        )
        logger.warning("malformed webhook body from %s kept as event %s", provider, event_id)
        return Verdict(400, "malformed", event_id)
    if normalizer.instance_of(payload) not in own_instance_ids(number):
        return refuse("instance in the payload is not the token's", log)
    event_id, duplicate = store(
        number,
        body,
        headers,
        name=normalizer.event_name(payload),
        key=normalizer.dedupe_key(payload, body),
    )
    return Verdict(200, "duplicate" if duplicate else "accepted", event_id)


def number_for(token: str) -> Number | None:
    """The live number of a URL token (Redis routing cache first), with its secrets."""
    route = routing.resolve_token(token)
    if route is None:
        return None
    return Number.objects.live().filter(pk=route["number_id"]).only(*NUMBER_FIELDS).first()


def refuse(reason: str, log: dict[str, str]) -> Verdict:
    """A 403 with a security log line; nothing is stored."""
    security.warning("webhook refused: %s", reason, extra=log)
    return Verdict(403, "forbidden")


def parse(body: bytes) -> Mapping[str, Any] | None:
    """The body as a JSON object (nesting-limited, see whatsapp_saas.safejson), or None."""
    try:
        payload = safejson.loads(body)
    except safejson.MalformedJSON:
        return None
    return payload if isinstance(payload, Mapping) else None


def own_instance_ids(number: Number) -> set[str]:
    """The names a payload may give this number: Evolution's instance name, GreenAPI's id."""
    return {name for name in (number.instance_name, number.provider_instance_id) if name}


def store(
    number: Number,
    body: bytes,
    headers: Mapping[str, str],
    *,
    name: str,
    key: str,
    status: str = WebhookEvent.Status.RECEIVED,
    error: str = "",
) -> tuple[int, bool]:
    """Insert the event once and enqueue it on commit; a repeat only counts (event id, duplicate)."""
    event_id, duplicates = insert_or_count(
        {
            "provider": number.provider,
            "number_id": number.pk,
            "tenant_id": number.tenant_id,
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
        # robust: a broker hiccup must not fail the delivery; the redrive task catches up.
        transaction.on_commit(partial(enqueue, event_id), robust=True)
    return event_id, duplicates > 0


def insert_or_count(values: dict[str, Any]) -> tuple[int, int]:
    """One statement: insert the row, or add one to `duplicates` of the row with its dedupe key.

    Returns (id, duplicates); 0 duplicates means this call inserted it. A single
    INSERT … ON CONFLICT needs no transaction or savepoint, which keeps the ack fast, and the
    unique constraint stays the one judge of "seen before".
    """
    meta = WebhookEvent._meta
    fields = [meta.get_field(name) for name in values]
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
        "ON CONFLICT (provider, dedupe_key) "
        f"DO UPDATE SET duplicates = {table}.duplicates + 1 RETURNING id, duplicates"
    )
    params = [
        f.get_db_prep_save(value, connection)
        for f, value in zip(fields, values.values(), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        event_id, duplicates = cursor.fetchone()
    return int(event_id), int(duplicates)


def enqueue(event_id: int) -> None:
    """Queue the processing of one stored event."""
    from .tasks import process_webhook_event

    process_webhook_event.delay(event_id)
