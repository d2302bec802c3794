"""Tenants' endpoints receive our normalized events, signed, retried, and only their own."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from instances.models import ConnectionEvent, Number
from instances.services import change_status
from messaging import outbox, services
from messaging.models import Message
from providers.events import ConnectionStatus, MessageReceived, MessageStatus
from sandbox.testing import WebhookReceiver
from tenants.models import Tenant
from webhooks import outbound
from webhooks.models import Delivery, Endpoint

PROVIDER_ID = "3EB08EE80DB4E276AFE85B"  # our_message (conftest.py)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A local HTTP server recording what our deliveries post."""
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def register(
    client_for: Callable[[str], APIClient], make_key: Callable[..., Any]
) -> Callable[..., dict[str, Any]]:
    """Register an endpoint through the API for a tenant; returns the create response."""

    def make(tenant: Tenant, url: str, **body: Any) -> dict[str, Any]:
        api = client_for(make_key(tenant)[1])
        response = api.post("/api/v1/webhook-endpoints/", {"url": url, **body}, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return make


def run_due(delivery: Delivery) -> str:
    """Make a delivery due now and run it once, as its retry task would."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return outbound.deliver(str(delivery.pk))


def test_message_status_change_is_delivered_signed_with_the_endpoint_secret(
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
) -> None:
    secret = register(tenant, receiver.url)["secret"]
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.DELIVERED)
    delivery = Delivery.objects.get()
    assert outbound.deliver(str(delivery.pk)) == "delivered"
    [request] = receiver.received
    stamp, signature = (
        part.split("=", 1)[1] for part in request.headers["X-Webhook-Signature"].split(",")
    )
    expected = hmac.new(
        secret.encode(), f"{stamp}.".encode() + request.raw, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert request.headers["X-Webhook-Id"] == str(delivery.pk)
    assert request.headers["X-Webhook-Event"] == "message.status"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body["type"] == "message.status"
    assert request.body["data"]["id"] == str(our_message.pk)
    assert request.body["data"]["status"] == "delivered"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert delivery.last_response_code == 200


def test_failed_deliveries_are_retried_with_backoff_until_they_succeed(
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
) -> None:
    register(tenant, receiver.url)
    receiver.respond_with(500, 503)
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.READ)
    delivery = Delivery.objects.get()
    assert outbound.deliver(str(delivery.pk)) == "retry"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=4)
    assert outbound.deliver(str(delivery.pk)) == "skipped"  # not due yet
    assert run_due(delivery) == "retry"
    assert run_due(delivery) == "delivered"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len({r.headers["X-Webhook-Id"] for r in receiver.received}) == 1


def test_eight_failures_end_the_delivery_as_failed(
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
) -> None:
    register(tenant, receiver.url)
    receiver.respond_with(*[500] * 9)
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.FAILED)
    delivery = Delivery.objects.get()
    outcomes = [run_due(delivery) for _ in range(9)]
    assert outcomes == ["retry"] * 7 + ["failed", "skipped"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("failed", 8, 500)
    assert len(receiver.received) == 8


def test_backoff_doubles_from_ten_seconds_and_stops_at_an_hour() -> None:
    assert 5 <= outbound.backoff(1) <= 10
    assert 10 <= outbound.backoff(2) <= 20
    assert 1800 <= outbound.backoff(20) <= 3600


def test_another_tenant_never_receives_our_events(
    tenant: Tenant,
    other_tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
) -> None:
    register(other_tenant, receiver.url)
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.DELIVERED)
    change_status(
        evolution_number, ConnectionStatus.DISCONNECTED, "logout", ConnectionEvent.Source.WEBHOOK
    )
    assert not Delivery.objects.exists()


def test_the_secret_is_shown_only_in_the_create_response(
    tenant: Tenant,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
    api: APIClient,
) -> None:
    created = register(tenant, receiver.url)
    assert created["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhook-endpoints/").content.decode()
    shown = api.get(f"/api/v1/webhook-endpoints/{created['id']}/").content.decode()
    assert created["id"] in listed and created["id"] in shown
    assert created["secret"] not in listed + shown and "secret" not in listed + shown


def test_a_status_that_changes_nothing_emits_nothing(
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
) -> None:
    register(tenant, receiver.url)
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.SENT)
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.QUEUED)
    change_status(evolution_number, ConnectionStatus.CONNECTED, "", ConnectionEvent.Source.POLL)
    assert not Delivery.objects.exists()


def test_number_status_change_and_new_inbound_message_are_emitted_once(
    tenant: Tenant,
    evolution_number: Number,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
) -> None:
    register(tenant, receiver.url)
    change_status(
        evolution_number, ConnectionStatus.LOGGED_OUT, "logout", ConnectionEvent.Source.WEBHOOK
    )
    inbound = MessageReceived(
        provider="evolution",
        instance="acme-wa1",
        raw={},
        message_id="IN1",
        chat_id="5511777777777@s.whatsapp.net",
        text="Hi",
    )
    services.record_inbound(evolution_number, inbound)
    services.record_inbound(evolution_number, inbound)
    payloads = {d.event_type: d.payload for d in Delivery.objects.all()}
    assert sorted(payloads) == ["message.received", "number.status"]
    assert payloads["number.status"]["data"] == {
        "number": str(evolution_number.pk),
        "status": "logged_out",
        "reason": "logout",
        "phone_number": "5511999999999",
    }
    assert payloads["message.received"]["data"]["text"] == "Hi"


def test_unsubscribed_and_inactive_endpoints_get_nothing(
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
) -> None:
    register(tenant, receiver.url, event_types=["number.status"])
    Endpoint.objects.create(tenant=tenant, url=receiver.url, is_active=False)
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.DELIVERED)
    assert not Delivery.objects.exists()


def test_plain_http_urls_are_refused(api: APIClient) -> None:
    response = api.post(
        "/api/v1/webhook-endpoints/", {"url": "http://example.com/hook"}, format="json"
    )
    assert response.status_code == 400


def test_test_action_pings_the_endpoint(
    tenant: Tenant,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
    api: APIClient,
) -> None:
    created = register(tenant, receiver.url)
    response = api.post(f"/api/v1/webhook-endpoints/{created['id']}/test/")
    assert response.status_code == 202
    assert outbound.deliver(response.json()["id"]) == "delivered"
    assert json.loads(receiver.received[0].raw)["type"] == "ping"


def test_sweep_enqueues_due_pending_deliveries(
    tenant: Tenant,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = register(tenant, receiver.url)
    delivery = outbound.ping(Endpoint.objects.get(pk=created["id"]))
    enqueued: list[str] = []
    monkeypatch.setattr(outbound, "enqueue", lambda pk, countdown=None: enqueued.append(pk))
    assert outbound.sweep() == 1 and enqueued == [str(delivery.pk)]


def test_messages_the_sweep_expires_are_emitted_as_failed(
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
) -> None:
    register(tenant, receiver.url)
    Message.objects.filter(pk=our_message.pk).update(
        status="queued", provider_message_id="", expires_at=timezone.now() - timedelta(minutes=1)
    )
    outbox.sweep()
    [delivery] = Delivery.objects.all()
    assert delivery.payload["data"]["status"] == "failed"
    assert delivery.payload["data"]["id"] == str(our_message.pk)


def test_an_endpoint_on_an_internal_address_is_never_called(
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
    settings: Any,
) -> None:
    register(tenant, receiver.url)
    settings.OUTBOUND_WEBHOOKS_ALLOW_LOCAL_HTTP = False
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.DELIVERED)
    delivery = Delivery.objects.get()
    outbound.deliver(str(delivery.pk))
    delivery.refresh_from_db()
    assert receiver.received == []
    assert "non-public address (127.0.0.1)" in delivery.last_error


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("10.1.2.3", False),
        ("192.168.0.10", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("8.8.8.8", True),
    ],
)
def test_only_public_addresses_may_be_called(host: str, allowed: bool, settings: Any) -> None:
    settings.OUTBOUND_WEBHOOKS_ALLOW_LOCAL_HTTP = False
    assert (outbound.blocked_address(host) == "") is allowed


def test_finished_deliveries_are_purged_after_the_retention_but_pending_ones_stay(
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Callable[..., dict[str, Any]],
) -> None:
    register(tenant, receiver.url)
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.DELIVERED)
    services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.READ)
    done, waiting = Delivery.objects.order_by("created_at")
    outbound.deliver(str(done.pk))
    Delivery.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert outbound.purge(30) == 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [waiting.pk]
