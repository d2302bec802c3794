"""Webhook delivery: per-instance order, Evolution retry back-off on the clock, give-up, jwt_key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from sandbox.testing import SandboxServer, WebhookReceiver
from sandbox.tests.helpers import create_evolution, evo, open_evolution
from sandbox.webhooks import RetryPolicy


def deliveries(sandbox: SandboxServer, event: str) -> list[dict[str, Any]]:
    """Return the delivery log entries of one event."""
    found: list[dict[str, Any]] = sandbox.control("GET", f"/webhooks?event={event}")["deliveries"]
    return found


def wait_until(check: Callable[[], bool], timeout: float = 5) -> None:
    """Poll until check() is true."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_with_the_ordered_option_deliveries_for_one_instance_arrive_in_order(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    sandbox.settings(evolution_webhook_order="ordered")
    open_evolution(sandbox, receiver)
    receiver.clear()
    for index in range(20):
        sandbox.inbound("evolution", "wa1", **{"from": "5511777776666", "text": str(index)})
    receiver.wait_for_event("messages.upsert", 20)
    texts = [r.body["data"]["message"]["conversation"] for r in receiver.of("messages.upsert")]
    assert texts == [str(i) for i in range(20)]


def test_with_the_ordered_option_a_failed_delivery_is_retried_and_blocks_later_ones(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    sandbox.settings(webhook_jitter=0, evolution_webhook_order="ordered")
    receiver.respond_with(500, 503)
    create_evolution(sandbox, receiver, qrcode=False)
    wait_until(lambda: deliveries(sandbox, "instance.create")[0]["responses"] == [500])
    evo(sandbox, "GET", "/instance/connect/wa1")
    time.sleep(0.1)
    assert receiver.events() == ["instance.create"]  # the queue waits behind the failing head
    sandbox.advance(5)
    wait_until(lambda: deliveries(sandbox, "instance.create")[0]["responses"] == [500, 503])
    sandbox.advance(9.9)
    time.sleep(0.1)
    assert len(receiver.received) == 2
    sandbox.advance(0.1)
    receiver.wait_for(lambda got: len(got) >= 5)
    assert receiver.events()[:5] == ["instance.create"] * 3 + [
        "connection.update",
        "qrcode.updated",
    ]
    assert deliveries(sandbox, "instance.create")[0]["status"] == "delivered"


def test_evolution_deliveries_are_concurrent_and_later_events_overtake_a_failing_one(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    """Most sendDataWebhook calls are not awaited, each with its own retries (reference 1.9)."""
    sandbox.settings(webhook_jitter=0, evolution_webhook_order="concurrent")
    sandbox.faults(webhook_first_attempt_fail_rate=1, webhook_events=["instance.create"])
    create_evolution(sandbox, receiver, qrcode=False)
    evo(sandbox, "GET", "/instance/connect/wa1")
    receiver.wait_for(lambda got: len(got) >= 2)
    # Concurrent: these two may come in either order; instance.create, failing, comes last.
    assert sorted(str(e) for e in receiver.events()) == ["connection.update", "qrcode.updated"]
    sandbox.advance(5)
    receiver.wait_for_event("instance.create")
    assert receiver.events()[2] == "instance.create"
    assert deliveries(sandbox, "instance.create")[0]["responses"] == [503, 200]


def test_non_retryable_status_gives_up_at_once(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    receiver.respond_with(404)
    create_evolution(sandbox, receiver, qrcode=False)
    wait_until(lambda: deliveries(sandbox, "instance.create")[0]["status"] == "failed")
    assert deliveries(sandbox, "instance.create")[0]["attempts"] == 1


def test_evolution_backoff_schedule_matches_the_reference() -> None:
    policy = RetryPolicy(10, 30, 5, 300, True, 0.2, frozenset({400}), range(200, 300))
    assert [policy.delay(n, 0.5) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert policy.delay(1, 0.0) == 5  # jitter never goes under the initial delay
    assert policy.delay(3, 0.999) < 24.01


def test_jwt_key_header_becomes_a_bearer_jwt(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    body = {
        "instanceName": "wa1",
        "integration": "WHATSAPP-BAILEYS",
        "webhook": {
            "url": receiver.url,
            "headers": {"jwt_key": "k3y", "X-Other": "1"},
            "events": [],
        },
    }
    assert evo(sandbox, "POST", "/instance/create", json=body).status_code == 201
    hook = receiver.wait_for_event("instance.create")[0]
    assert "jwt_key" not in hook.headers and hook.headers["X-Other"] == "1"
    token = hook.headers["Authorization"].removeprefix("Bearer ")
    head, claims, signature = token.split(".")
    expected = hmac.new(b"k3y", f"{head}.{claims}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected
    payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
    assert payload["app"] == "evolution" and payload["action"] == "webhook"
    assert payload["exp"] - payload["iat"] == 600
