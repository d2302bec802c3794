"""Tenants' endpoints receive our events signed per Standard Webhooks, retried, and only theirs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from instances.models import ConnectionEvent, Number
from instances.services import change_status
from messaging import outbox, services
from messaging.models import Message
from notifications import claims, delivery
from notifications import services as notify
from notifications.models import Delivery, DeliveryAttempt, Endpoint
from providers.events import ConnectionStatus, MessageReceived, MessageStatus
from sandbox.testing import WebhookReceiver
from tenants.models import Tenant

from .conftest import PROVIDER_ID, Committed, run_due

Register = Callable[..., dict[str, Any]]


def test_a_status_change_is_delivered_and_verifies_with_the_standardwebhooks_library(
    committed: Committed,
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    secret = register(tenant, receiver.url)["secret"]
    with committed():
        services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.DELIVERED)
    queued = Delivery.objects.get()
    assert delivery.deliver(str(queued.pk)) == "delivered"
    [request] = receiver.received
    body = Webhook(secret).verify(request.raw, request.headers)
    assert request.headers["webhook-id"] == str(queued.event_id)
    assert request.headers["Content-Type"] == "application/json"
    assert sorted(body) == ["data", "timestamp", "type"]
    assert body["type"] == "message.status"
    assert (body["data"]["id"], body["data"]["status"]) == (str(our_message.pk), "delivered")
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.last_response_code) == ("delivered", 1, 200)


def test_a_tampered_body_or_another_secret_does_not_verify(
    tenant: Tenant, receiver: WebhookReceiver, register: Register
) -> None:
    created = register(tenant, receiver.url)
    queued = notify.ping(Endpoint.objects.get(pk=created["id"]))
    delivery.deliver(str(queued.pk))
    [request] = receiver.received
    with pytest.raises(Exception, match="signature"):
        Webhook(created["secret"]).verify(request.raw + b" ", request.headers)
    other = register(tenant, receiver.url)["secret"]
    with pytest.raises(Exception, match="signature"):
        Webhook(other).verify(request.raw, request.headers)


def test_every_attempt_has_a_row_and_retries_keep_the_webhook_id(
    committed: Committed,
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    secret = register(tenant, receiver.url)["secret"]
    receiver.respond_with(500, 503)
    with committed():
        services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.READ)
    queued = Delivery.objects.get()
    assert delivery.deliver(str(queued.pk)) == "retry"
    queued.refresh_from_db()
    first = DeliveryAttempt.objects.get(delivery=queued)
    # The first wait is 5 to 10 s (equal jitter), counted from after the attempt started.
    assert queued.next_attempt_at is not None
    assert queued.next_attempt_at >= first.started_at + timedelta(seconds=5)
    assert delivery.deliver(str(queued.pk)) == "skipped"  # not due yet
    assert run_due(queued) == "retry"
    assert run_due(queued) == "delivered"
    attempts = list(DeliveryAttempt.objects.filter(delivery=queued))
    assert [(a.number, a.response_code, a.outcome) for a in attempts] == [
        (1, 500, "retry"),
        (2, 503, "retry"),
        (3, 200, "delivered"),
    ]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    for request in receiver.received:
        Webhook(secret).verify(request.raw, request.headers)


def test_eight_failures_end_the_delivery_as_failed(
    committed: Committed,
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    register(tenant, receiver.url)
    receiver.respond_with(*[500] * 9)
    with committed():
        services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.FAILED)
    queued = Delivery.objects.get()
    outcomes = [run_due(queued) for _ in range(9)]
    assert outcomes == ["retry"] * 7 + ["failed", "skipped"]
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.last_response_code) == ("failed", 8, 500)
    assert len(receiver.received) == 8


@pytest.mark.parametrize("code", [410, 400, 401, 404, 422])
def test_a_final_4xx_answer_fails_the_delivery_without_retries(
    tenant: Tenant, receiver: WebhookReceiver, register: Register, code: int
) -> None:
    created = register(tenant, receiver.url)
    receiver.respond_with(code)
    queued = notify.ping(Endpoint.objects.get(pk=created["id"]))
    assert delivery.deliver(str(queued.pk)) == "failed"
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.next_attempt_at) == ("failed", 1, None)
    assert run_due(queued) == "skipped" and len(receiver.received) == 1


@pytest.mark.parametrize("code", [408, 429, 500, 502])
def test_timeouts_rate_limits_and_server_errors_are_retried(
    tenant: Tenant, receiver: WebhookReceiver, register: Register, code: int
) -> None:
    created = register(tenant, receiver.url)
    receiver.respond_with(code)
    queued = notify.ping(Endpoint.objects.get(pk=created["id"]))
    assert delivery.deliver(str(queued.pk)) == "retry"
    assert run_due(queued) == "delivered"


def test_retry_after_of_a_429_sets_the_next_attempt() -> None:
    from notifications.transport import Answer

    result = delivery.judge(Answer(429, "", "127.0.0.1", retry_after=120.0))
    assert result.outcome == "retry"
    assert delivery.retry_delay(1, result.retry_after) == 120.0
    assert delivery.retry_delay(1, 10**9) == delivery.MAX_DELAY


@pytest.mark.parametrize("tries", range(1, 12))
def test_retries_wait_10_s_doubling_with_equal_jitter_and_never_over_an_hour(tries: int) -> None:
    step = min(10.0 * 2 ** (tries - 1), 3600.0)
    delays = [delivery.retry_delay(tries) for _ in range(50)]
    assert all(step / 2 <= d <= step for d in delays)
    assert len(set(delays)) > 1


def test_an_endpoint_whose_address_is_internal_at_delivery_fails_at_once(
    tenant: Tenant, receiver: WebhookReceiver, register: Register, settings: Any
) -> None:
    created = register(tenant, receiver.url)
    settings.ALLOWED_INTERNAL_HOSTS = []  # e.g. its DNS now points inside our network
    queued = notify.ping(Endpoint.objects.get(pk=created["id"]))
    assert delivery.deliver(str(queued.pk)) == "failed"
    queued.refresh_from_db()
    assert receiver.received == [] and queued.attempts == 1
    assert queued.last_error.startswith("address refused")


def test_another_tenant_never_receives_our_events(
    committed: Committed,
    tenant: Tenant,
    other_tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    register(other_tenant, receiver.url)
    with committed():
        services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.DELIVERED)
    with committed():
        change_status(
            evolution_number,
            ConnectionStatus.DISCONNECTED,
            "logout",
            ConnectionEvent.Source.WEBHOOK,
        )
    assert not Delivery.objects.exists()


def test_a_status_that_changes_nothing_emits_nothing(
    committed: Committed,
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    register(tenant, receiver.url)
    with committed():
        services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.SENT)
    with committed():
        services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.QUEUED)
    with committed():
        change_status(evolution_number, ConnectionStatus.CONNECTED, "", ConnectionEvent.Source.POLL)
    assert not Delivery.objects.exists()


def test_number_status_change_and_new_inbound_message_are_emitted_once(
    committed: Committed,
    tenant: Tenant,
    evolution_number: Number,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    register(tenant, receiver.url)
    with committed():
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
    with committed():
        services.record_inbound(evolution_number, inbound)
    with committed():
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


def test_an_edit_deletion_or_reaction_is_delivered_as_message_updated(
    committed: Committed,
    tenant: Tenant,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    from messaging import events

    secret = register(tenant, receiver.url, event_types=["message.updated"])["secret"]
    with committed():
        events.updated([our_message])
    queued = Delivery.objects.get()
    assert delivery.deliver(str(queued.pk)) == "delivered"
    [request] = receiver.received
    body = Webhook(secret).verify(request.raw, request.headers)
    assert (body["type"], body["data"]["id"]) == ("message.updated", str(our_message.pk))


def test_unsubscribed_and_inactive_endpoints_get_nothing(
    committed: Committed,
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    register(tenant, receiver.url, event_types=["number.status"])
    register(tenant, receiver.url, is_active=False)
    with committed():
        services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.DELIVERED)
    assert not Delivery.objects.exists()


def test_nothing_is_announced_when_the_change_is_rolled_back(
    committed: Committed,
    tenant: Tenant,
    evolution_number: Number,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    from django.db import transaction

    register(tenant, receiver.url)
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        change_status(evolution_number, ConnectionStatus.LOGGED_OUT, "logout")
        raise RuntimeError("rolled back")
    assert not Delivery.objects.exists()


def test_a_failing_subscriber_never_fails_the_change(
    committed: Committed, tenant: Tenant, evolution_number: Number, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("subscriber down")

    monkeypatch.setattr(notify, "subscribed", broken)
    with committed():
        change_status(evolution_number, ConnectionStatus.LOGGED_OUT, "logout")
    evolution_number.refresh_from_db()
    assert evolution_number.status == "logged_out"


def test_the_test_action_pings_the_endpoint(
    tenant: Tenant, receiver: WebhookReceiver, register: Register, api: Any
) -> None:
    created = register(tenant, receiver.url)
    response = api.post(f"/api/v1/webhook-endpoints/{created['id']}/test/")
    assert response.status_code == 202
    assert delivery.deliver(response.json()["id"]) == "delivered"
    assert json.loads(receiver.received[0].raw)["type"] == "ping"


def test_the_sweep_wakes_due_pending_deliveries(
    tenant: Tenant, receiver: WebhookReceiver, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = register(tenant, receiver.url)
    queued = notify.ping(Endpoint.objects.get(pk=created["id"]))
    woken: list[str] = []
    monkeypatch.setattr(claims, "enqueue", lambda pk, countdown=None: woken.append(pk))
    assert notify.sweep() == 1 and woken == [str(queued.pk)]


def test_messages_the_outbox_sweep_expires_are_emitted_as_failed(
    committed: Committed,
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    register(tenant, receiver.url)
    Message.objects.filter(pk=our_message.pk).update(
        status="queued", provider_message_id="", expires_at=timezone.now() - timedelta(minutes=1)
    )
    with committed():
        outbox.sweep()
    [queued] = Delivery.objects.all()
    assert queued.payload["data"]["status"] == "failed"
    assert queued.payload["data"]["id"] == str(our_message.pk)


def test_redeliver_sends_a_finished_delivery_again(
    tenant: Tenant, receiver: WebhookReceiver, register: Register
) -> None:
    created = register(tenant, receiver.url)
    queued = notify.ping(Endpoint.objects.get(pk=created["id"]))
    assert delivery.deliver(str(queued.pk)) == "delivered"
    assert notify.redeliver([queued]) == 1
    assert delivery.deliver(str(queued.pk)) == "delivered"
    assert len(receiver.received) == 2
    assert DeliveryAttempt.objects.filter(delivery=queued).count() == 2


def test_finished_deliveries_are_purged_after_the_retention_but_pending_ones_stay(
    committed: Committed,
    tenant: Tenant,
    evolution_number: Number,
    our_message: Message,
    receiver: WebhookReceiver,
    register: Register,
) -> None:
    register(tenant, receiver.url)
    with committed():
        services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.DELIVERED)
    with committed():
        services.apply_status(evolution_number, PROVIDER_ID, MessageStatus.READ)
    done, waiting = Delivery.objects.order_by("created_at")
    delivery.deliver(str(done.pk))
    Delivery.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert notify.purge(30) == 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert not DeliveryAttempt.objects.exists()
