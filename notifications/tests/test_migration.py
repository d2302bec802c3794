"""Endpoints and deliveries moved from webhooks keep their key and their event."""

from __future__ import annotations

import base64
import importlib
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

moved = importlib.import_module("notifications.migrations.0002_move_from_webhooks")


def test_an_old_url_safe_secret_becomes_the_same_key_in_standard_base64() -> None:
    for _ in range(50):
        old = "whsec_" + secrets.token_urlsafe(32)
        new = moved.standard_secret(old)
        key = base64.urlsafe_b64decode(old[6:] + "=" * (-len(old[6:]) % 4))
        assert new.startswith("whsec_") and Webhook(new)._whsecret == key
        # What the changelog tells tenants to do with the secret they stored gives the same text.
        converted = old[6:].replace("-", "+").replace("_", "/")
        assert new == "whsec_" + converted + "=" * (-len(converted) % 4)


def test_a_signature_made_with_the_converted_secret_verifies() -> None:
    new = moved.standard_secret("whsec_" + secrets.token_urlsafe(32))
    now = datetime.now(UTC)
    signature = Webhook(new).sign("evt-1", now, '{"type":"ping"}')
    headers = {
        "webhook-id": "evt-1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    assert Webhook(new).verify('{"type":"ping"}', headers) == {"type": "ping"}


def test_an_old_envelope_becomes_a_standard_webhooks_body_with_its_event_id() -> None:
    event_id, body = moved.new_body(
        {"id": "e1", "type": "number.status", "created_at": "2026-01-01T00:00:00Z", "data": {}}
    )
    assert event_id == "e1"
    assert body == {"type": "number.status", "timestamp": "2026-01-01T00:00:00Z", "data": {}}
