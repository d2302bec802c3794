"""GET /metrics: hidden without a token, and the figures it exposes after real activity."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from instances import services
from instances.models import Number
from messaging.models import Contact, Conversation, Message
from providers.events import ConnectionStatus as S
from providers.types import ConnectionState
from webhooks import fixtures
from whatsapp_saas import metrics, stats

TOKEN = "scrape-secret-1"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: Client, token: str | None = TOKEN) -> Any:
    """GET /metrics with a bearer token (or none)."""
    if token is None:
        return client.get("/metrics")
    return client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")


def samples(client: Client) -> Samples:
    """Every sample of a scrape, by name and labels."""
    response = scrape(client)
    assert response.status_code == 200
    found: Samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def token(settings: Any) -> str:
    """METRICS_TOKEN set."""
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.mark.django_db
def test_metrics_is_not_found_when_no_token_is_configured(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert scrape(client).status_code == 404
    assert scrape(client, token="anything").status_code == 404


@pytest.mark.django_db
def test_metrics_is_not_found_without_or_with_a_wrong_token(client: Client, token: str) -> None:
    assert scrape(client, token=None).status_code == 404
    assert scrape(client, token="scrape-secret-2").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 404
    assert scrape(client).status_code == 200


@pytest.mark.django_db
def test_metrics_answers_on_an_internal_host_name(
    client: Client, token: str, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["app.example.com"]
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_HOST="web:8000")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.django_db
def test_a_completed_scan_is_timed_and_the_number_counted_connected(
    client: Client, token: str, evolution_number: Number, django_capture_on_commit_callbacks: Any
) -> None:
    before = samples(client)
    shown = timezone.now() - timedelta(seconds=42)
    Number.objects.filter(pk=evolution_number.pk).update(
        status=S.QR_PENDING, status_reason="waiting_scan", connect_started_at=shown
    )
    evolution_number.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.apply_state(evolution_number, ConnectionState(S.CONNECTED), "webhook")
    after = samples(client)

    count = "wa_qr_scan_seconds_count"
    assert (
        value(after, count, provider="evolution") == value(before, count, provider="evolution") + 1
    )
    scanned = value(after, "wa_qr_scan_seconds_sum", provider="evolution") - value(
        before, "wa_qr_scan_seconds_sum", provider="evolution"
    )
    assert 42 <= scanned < 60
    assert value(after, "wa_qr_scan_seconds_bucket", provider="evolution", le="30.0") == value(
        before, "wa_qr_scan_seconds_bucket", provider="evolution", le="30.0"
    )
    assert value(after, "wa_numbers", provider="evolution", status="connected") == 1
    assert value(after, "wa_numbers", provider="evolution", status="qr_pending") == 0


@pytest.mark.django_db
def test_a_lost_connection_counts_one_disconnect_with_its_reason(
    client: Client, token: str, evolution_number: Number, django_capture_on_commit_callbacks: Any
) -> None:
    name = "wa_number_disconnects_total"
    before = value(samples(client), name, provider="evolution", reason="connection_lost")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(evolution_number, S.CONNECTING, "connection_lost", "webhook")
        services.change_status(evolution_number, S.DISCONNECTED, "connection_lost", "webhook")
    after = value(samples(client), name, provider="evolution", reason="connection_lost")
    assert after == before + 1


@pytest.mark.django_db
def test_a_due_message_is_the_send_queue_s_depth_and_age(
    client: Client, token: str, evolution_number: Number
) -> None:
    contact = Contact.objects.create(tenant=evolution_number.tenant, phone="5521988887777")
    conversation = Conversation.objects.create(
        tenant=evolution_number.tenant, number=evolution_number, contact=contact
    )
    message = Message.objects.create(
        tenant=evolution_number.tenant,
        number=evolution_number,
        conversation=conversation,
        direction="outbound",
        recipient="5521988887777",
        text="hi",
    )
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=90))
    after = samples(client)
    assert value(after, "wa_queue_depth", queue="send") == 1
    assert 90 <= value(after, "wa_queue_oldest_due_age_seconds", queue="send") < 120
    assert value(after, "wa_queue_depth", queue="events") == 0


@pytest.mark.django_db
def test_a_paused_number_s_messages_are_not_a_stuck_send_queue(
    client: Client, token: str, evolution_number: Number
) -> None:
    contact = Contact.objects.create(tenant=evolution_number.tenant, phone="5521988887777")
    conversation = Conversation.objects.create(
        tenant=evolution_number.tenant, number=evolution_number, contact=contact
    )
    Message.objects.create(
        tenant=evolution_number.tenant,
        number=evolution_number,
        conversation=conversation,
        direction="outbound",
        recipient="5521988887777",
    )
    Number.objects.filter(pk=evolution_number.pk).update(status=S.DISCONNECTED)
    assert value(samples(client), "wa_queue_depth", queue="send") == 0


@pytest.mark.django_db
def test_webhook_outcomes_are_counted_with_their_ack_latency(
    client: Client, token: str, evolution_number: Number, settings: Any
) -> None:
    before = samples(client)
    path = fixtures.webhook_path(evolution_number)
    payload = fixtures.load_fixture("evolution", "messages_upsert__text")
    body = json.dumps(fixtures.addressed_to(evolution_number, payload)).encode()
    good = fixtures.provider_headers(evolution_number, body)
    wrong = fixtures.provider_headers(evolution_number, body, secret="y" * 32)
    settings.WEBHOOK_MAX_BODY_BYTES = 4096
    deliveries = [
        (path, body, good, 200),
        (path, body, good, 200),
        (path, body, wrong, 403),
        ("/webhooks/evolution/no-such-token/", body, good, 200),
        (path, b"[1, 2", good, 400),
        (path, b"x" * 5000, good, 413),
    ]
    for url, data, headers, status in deliveries:
        answer = client.post(
            url,
            data=data,
            content_type="application/json",
            headers=headers,
        )
        assert answer.status_code == status
    after = samples(client)

    name = "wa_webhook_deliveries_total"
    for outcome in ("accepted", "duplicate", "refused", "unknown_token", "invalid", "too_large"):
        delta = value(after, name, provider="evolution", outcome=outcome) - value(
            before, name, provider="evolution", outcome=outcome
        )
        assert delta == 1, outcome
    acks = value(after, "wa_webhook_ack_seconds_count", provider="evolution") - value(
        before, "wa_webhook_ack_seconds_count", provider="evolution"
    )
    assert acks == len(deliveries)
    # No row is stored for refusals, unknown tokens and oversized bodies: the health page reads
    # Redis for them.
    assert stats.total("webhook_refused", 5) == 1
    assert stats.total("webhook_unknown_token", 5) == 1
    assert stats.total("webhook_too_large", 5) == 1


@pytest.mark.django_db
def test_requests_are_counted_by_route_pattern_never_by_path(
    client: Client, token: str, evolution_number: Number
) -> None:
    client.post(
        f"/webhooks/evolution/not-a-token-{evolution_number.pk}/",
        data=b"{}",
        content_type="application/json",
    )
    found = samples(client)
    routes = {
        dict(labels).get("route") for name, labels in found if name == "wa_http_requests_total"
    }
    assert "webhooks:receive" in routes
    assert not any(route and str(evolution_number.pk) in route for route in routes)


def test_label_values_outside_their_closed_sets_become_other() -> None:
    before = metrics.SENDS.labels("other", "other")._value.get()
    metrics.send_outcome("evil-provider", "free text from a provider")
    assert metrics.SENDS.labels("other", "other")._value.get() == before + 1
    assert metrics.one_of("x", {"a"}) == "other"
    assert metrics.provider_label("greenapi") == "greenapi"
