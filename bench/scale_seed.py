"""Bulk seeding for bench/scale.py: server-side INSERT … SELECT over generate_series."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

BIG_SHARE = 0.5
TENANTS = 11
CONTACTS_PER_NUMBER = 10
RECENT_DAYS = 30


@dataclass
class World:
    """What the measurements need to know about the seeded data."""

    big_tenant_id: str
    api_key: str
    numbers: int
    messages: int
    sample_numbers: list[str] = field(default_factory=list)
    sample_conversations: list[str] = field(default_factory=list)
    sample_recipients: list[str] = field(default_factory=list)
    operator: Any = None

    def summary(self) -> str:
        """One line of counts."""
        return f"{self.numbers} numbers, {self.messages} messages, {TENANTS} tenants"


def encrypted(value: str) -> bytes:
    """What django-cryptography stores for `value` (one ciphertext reused for every row)."""
    from instances.models import Number

    field_ = Number._meta.get_field("webhook_token")
    prepared = field_.get_db_prep_value(value, connection, prepared=False)
    return bytes(getattr(prepared, "obj", prepared))


def seed(numbers: int, per_number: int, timed: Callable[[str, Callable[[], Any]], Any]) -> World:
    """Tenants, numbers, contacts, conversations, messages, attempts, events; then ANALYZE."""
    tenants = timed("tenants, API key, operator", lambda: make_tenants())
    big, key, operator = tenants
    timed(f"{numbers} numbers", lambda: seed_numbers(big, numbers))
    timed("contacts and conversations", seed_conversations)
    timed(f"{numbers * per_number} messages", lambda: seed_messages(per_number))
    timed("send attempts (last 2 days)", seed_attempts)
    timed("webhook and connection events", seed_events)
    timed("VACUUM ANALYZE (as autovacuum would)", lambda: execute("VACUUM ANALYZE"))
    world = World(big, key, numbers, numbers * per_number, operator=operator)
    sample(world)
    return world


def execute(sql: str, params: list[Any] | dict[str, Any] | None = None) -> None:
    """One statement on the bench database."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def make_tenants() -> tuple[str, str, Any]:
    """Eleven tenants (the first is the big one), an API key of the big one, an operator."""
    from django.contrib.auth import get_user_model

    from tenants.models import ApiKey, Tenant

    made = [
        Tenant.objects.create(name=f"Tenant {i}", slug=f"t{i}", max_numbers=10**6)
        for i in range(TENANTS)
    ]
    _, raw = ApiKey.generate(
        tenant=made[0],
        name="bench",
        scopes=["numbers:read", "numbers:write", "messages:read", "messages:send"],
    )
    operator = get_user_model().objects.create_superuser("ops", "ops@example.com", "ops-pass-1")
    return str(made[0].pk), raw, operator


def seed_numbers(big_tenant: str, count: int) -> None:
    """Half the numbers in the big tenant; 80 % connected, 80 % Evolution; a few waiting."""
    token = encrypted("bench-token")
    execute(
        """
        INSERT INTO instances_number (
            id, tenant_id, name, purpose, provider, instance_name, provider_instance_id,
            provider_api_url, provider_token, webhook_token, webhook_token_hash, webhook_secret,
            previous_webhook_secret, webhook_secret_hash, previous_webhook_secret_hash,
            status, status_reason, status_changed_at, last_error,
            phone_number, profile_name, qr_code, pairing_code, connect_started_at, connected_at,
            send_rate_per_minute, consecutive_send_failures, created_at, updated_at)
        SELECT gen_random_uuid(),
               CASE WHEN g <= %(big)s THEN %(big_tenant)s::uuid
                    ELSE (SELECT id FROM tenants_tenant WHERE slug = 't' || (1 + g %% 10)) END,
               'Number ' || g, '',
               CASE WHEN g %% 5 = 0 THEN 'greenapi' ELSE 'evolution' END,
               'bench-' || g,
               CASE WHEN g %% 5 = 0 THEN (1100000000 + g)::text ELSE 'bench-' || g END,
               CASE WHEN g %% 5 = 0 THEN 'https://' || (7100 + g %% 7) || '.api.greenapi.com'
                    ELSE '' END,
               %(token)s, %(token)s, md5('hash' || g) || md5('h2' || g), %(token)s, %(token)s,
               md5('secret' || g) || md5('s2' || g), '',
               CASE WHEN g %% 10 < 8 THEN 'connected' WHEN g %% 10 = 8 THEN 'disconnected'
                    WHEN g %% 500 = 9 THEN 'qr_pending' ELSE 'logged_out' END,
               '', now() - interval '1 day', '',
               '5511' || lpad(g::text, 8, '0'), '', '', '',
               CASE WHEN g %% 500 = 9 THEN now() - interval '1 minute' END,
               now() - interval '1 day', 20, 0,
               now() - (g * interval '1 minute'), now()
        FROM generate_series(1, %(count)s) AS g
        """,
        {"big": int(count * BIG_SHARE), "big_tenant": big_tenant, "count": count, "token": token},
    )


def seed_conversations() -> None:
    """Ten contacts per number (per tenant), one conversation each."""
    execute(
        """
        CREATE TEMP TABLE bench_number AS
        SELECT id, tenant_id, row_number() OVER (PARTITION BY tenant_id ORDER BY created_at) AS n
        FROM instances_number
        """
    )
    execute(
        """
        INSERT INTO messaging_contact (id, tenant_id, phone, jid, lid, name, is_group,
                                       created_at, updated_at)
        SELECT gen_random_uuid(), b.tenant_id, '5521' || lpad((b.n * 10 + j)::text, 9, '0'),
               '', '', '', false, now(), now()
        FROM bench_number b, generate_series(0, %(per)s - 1) AS j
        """,
        {"per": CONTACTS_PER_NUMBER},
    )
    execute(
        """
        INSERT INTO messaging_conversation (id, tenant_id, number_id, contact_id, last_message_at,
                                            unread_count, created_at, updated_at)
        SELECT gen_random_uuid(), b.tenant_id, b.id, c.id, now(), 0,
               now() - (random() * interval '30 days'), now()
        FROM bench_number b
        JOIN generate_series(0, %(per)s - 1) AS j ON true
        JOIN messaging_contact c
          ON c.tenant_id = b.tenant_id AND c.phone = '5521' || lpad((b.n * 10 + j)::text, 9, '0')
        """,
        {"per": CONTACTS_PER_NUMBER},
    )


def without_indexes(table: str) -> list[str]:
    """Drop the secondary indexes of `table` (a bulk load is faster without them); their DDL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename = %s AND i.indexname NOT IN ("
            "  SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
            [table],
        )
        rows = cursor.fetchall()
        for name, _ in rows:
            cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in rows]


def seed_messages(per_number: int) -> None:
    """Messages spread over 30 days; half outbound (mostly read, 1 % failed), half inbound."""
    per_conversation = max(1, per_number // CONTACTS_PER_NUMBER)
    rebuild = without_indexes("messaging_message")
    insert_messages(per_conversation)
    execute("SET maintenance_work_mem = '256MB'")
    for definition in rebuild:
        execute(definition)


def insert_messages(per_conversation: int) -> None:
    """The INSERT … SELECT of every message."""
    execute(
        """
        INSERT INTO messaging_message (
            id, tenant_id, number_id, conversation_id, direction, type, recipient, sender, text,
            media_url, caption, file_name, mime_type, extra, is_group, status, provider_message_id,
            client_message_id, request_fingerprint, attempts, error_code, error_message,
            reactions, sent_at, failed_at, created_at, updated_at)
        SELECT gen_random_uuid(), v.tenant_id, v.number_id, v.id, v.direction, 'text',
               CASE WHEN v.direction = 'outbound' THEN v.phone ELSE '' END,
               CASE WHEN v.direction = 'inbound' THEN v.phone ELSE '' END,
               'message ' || v.k, '', '', '', '', '{}', false,
               CASE WHEN v.direction = 'inbound' THEN 'received'
                    WHEN v.k %% 100 = 0 THEN 'failed' WHEN v.k %% 997 = 0 THEN 'queued'
                    ELSE 'read' END,
               'P' || v.k || '-' || v.id, '', '', 1,
               CASE WHEN v.k %% 100 = 0 AND v.direction = 'outbound' THEN 'provider_error'
                    ELSE '' END, '', '{}',
               CASE WHEN v.direction = 'outbound' THEN v.at END,
               CASE WHEN v.k %% 100 = 0 AND v.direction = 'outbound' THEN v.at END,
               v.at, v.at
        FROM (
            SELECT c.id, c.tenant_id, c.number_id, ct.phone, k,
                   CASE WHEN k %% 2 = 0 THEN 'outbound' ELSE 'inbound' END AS direction,
                   now() - (random() * interval '30 days') AS at
            FROM messaging_conversation c
            JOIN messaging_contact ct ON ct.id = c.contact_id
            JOIN generate_series(1, %(per)s) AS k ON true
        ) AS v
        """,
        {"per": per_conversation},
    )


def seed_attempts() -> None:
    """One attempt per outbound message of the last two days (the health page reads these)."""
    execute(
        """
        INSERT INTO messaging_sendattempt (message_id, started_at, finished_at, outcome,
                                           error_code, error_message, fingerprint,
                                           provider_message_id, resolved_by)
        SELECT id, created_at, created_at + interval '1 second',
               CASE WHEN status = 'failed' THEN 'failed' ELSE 'sent' END, '', '', '',
               provider_message_id, CASE WHEN status = 'failed' THEN '' ELSE 'answer' END
        FROM messaging_message
        WHERE direction = 'outbound' AND created_at > now() - interval '2 days'
        """
    )


def seed_events() -> None:
    """200,000 processed webhook events over 30 days; four connection events per number."""
    execute(
        """
        INSERT INTO webhooks_webhookevent (provider, number_id, tenant_id, body, headers,
            event_name, event_type, dedupe_key, duplicates, status, error, attempts, received_at,
            processed_at)
        SELECT n.provider, n.id, n.tenant_id, '\\x7b7d'::bytea, '{}', 'messages.upsert',
               'message_received', n.id::text || ':' || g, (g %% 50 = 0)::int, 'processed', '', 1,
               now() - (random() * interval '30 days'), now()
        FROM instances_number n JOIN generate_series(1, 20) AS g ON true
        """
    )
    execute(
        """
        INSERT INTO instances_connectionevent
            (number_id, from_status, to_status, reason, source, at)
        SELECT n.id, s.f, s.t, s.r, 'webhook', now() - interval '1 day' + s.o * interval '20 s'
        FROM instances_number n,
             (VALUES ('', 'provisioning', '', 0), ('provisioning', 'disconnected', '', 1),
                     ('disconnected', 'qr_pending', 'waiting_scan', 2),
                     ('qr_pending', 'connected', 'scan_completed', 3)) AS s(f, t, r, o)
        """
    )


def sample(world: World) -> None:
    """Random ids and phones of the big tenant to vary the filters between requests."""
    rng = random.Random(7)  # noqa: S311 - shuffling sample filters, not a secret
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM instances_number WHERE tenant_id = %s ORDER BY random() LIMIT 200",
            [world.big_tenant_id],
        )
        world.sample_numbers = [str(r[0]) for r in cursor.fetchall()]
        cursor.execute(
            "SELECT c.id, ct.phone FROM messaging_conversation c "
            "JOIN messaging_contact ct ON ct.id = c.contact_id WHERE c.tenant_id = %s "
            "ORDER BY random() LIMIT 200",
            [world.big_tenant_id],
        )
        rows = cursor.fetchall()
    world.sample_conversations = [str(r[0]) for r in rows]
    world.sample_recipients = [r[1] for r in rows]
    rng.shuffle(world.sample_recipients)
