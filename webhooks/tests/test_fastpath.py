"""Webhooks served straight from WSGI answer exactly as the Django view does, and store once."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
import requests
from django.db import OperationalError, connection
from django.test import Client, RequestFactory
from prometheus_client import REGISTRY

from instances.models import Number
from tenants.models import Tenant
from webhooks import fastpath, ingest, wake
from webhooks.fixtures import provider_headers, webhook_path
from webhooks.models import WebhookEvent
from whatsapp_saas import wsgi
from whatsapp_saas.tests.live import running_gunicorn, test_database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_wakeups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Processing is not under test: the wake-up thread stays off."""
    monkeypatch.setattr(wake, "wake", lambda: None)


def number_of(tenant: Tenant, provider: str = "evolution", name: str = "acme-wa1") -> Number:
    """A connected number of the provider."""
    return Number.objects.create(
        tenant=tenant,
        name="Support",
        provider=provider,
        instance_name=name,
        provider_instance_id=str(1101000000 + Number.objects.count()),
        status="connected",
    )


def through_wsgi(path: str, body: bytes, headers: dict[str, str], method: str = "POST") -> Any:
    """(status, headers, body) of the production WSGI application."""
    request = RequestFactory().generic(
        method, path, data=body, content_type="application/json", headers=headers
    )
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(response_headers)

    content = b"".join(wsgi.application(request.environ, start_response))
    return seen["status"], seen["headers"], content


def through_django(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """(status, body) of the Django view alone."""
    response = Client().post(path, body, content_type="application/json", headers=headers)
    return response.status_code, response.content


def cases(
    number: Number, greenapi: Number, fixture_for: Any
) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """(path, body, headers) of each kind of delivery."""
    upsert = json.dumps(fixture_for(number, "messages_upsert__text")).encode()
    green = json.dumps(fixture_for(greenapi, "incomingMessageReceived__text")).encode()
    path, green_path = webhook_path(number), webhook_path(greenapi)
    good, green_good = provider_headers(number, upsert), provider_headers(greenapi, green)
    return {
        "accepted": (path, upsert, good),
        "duplicate": (path, upsert, good),
        "wrong secret": (path, upsert, provider_headers(number, upsert, secret="wrong")),
        "greenapi wrong token": (green_path, green, provider_headers(greenapi, green, secret="x")),
        "greenapi accepted": (green_path, green, green_good),
        "unknown token": ("/webhooks/evolution/no-such-token/", upsert, good),
        "malformed": (path, b"[1, 2", good),
        "too large": (path, b"{" + b" " * 2_000_000 + b"}", good),
    }


EXPECTED = {
    "accepted": 200,
    "duplicate": 200,
    "wrong secret": 403,
    "greenapi wrong token": 200,
    "greenapi accepted": 200,
    "unknown token": 200,
    "malformed": 400,
    "too large": 413,
}


COUNTED = {
    ("evolution", "accepted"): 1,
    ("evolution", "duplicate"): 1,
    ("evolution", "refused"): 1,
    ("greenapi", "refused"): 1,
    ("greenapi", "accepted"): 1,
    ("evolution", "unknown_token"): 1,
    ("evolution", "invalid"): 1,
    ("evolution", "too_large"): 1,
}


def webhook_counts() -> dict[tuple[str, str], float]:
    """wa_webhook_deliveries_total by (provider, outcome), and each provider's acks."""
    found = {}
    for provider, outcome in COUNTED:
        labels = {"provider": provider, "outcome": outcome}
        found[(provider, outcome)] = REGISTRY.get_sample_value(
            "wa_webhook_deliveries_total", labels
        )
    for provider in ("evolution", "greenapi"):
        found[(provider, "acks")] = REGISTRY.get_sample_value(
            "wa_webhook_ack_seconds_count", {"provider": provider}
        )
    return {key: value or 0.0 for key, value in found.items()}


def test_every_kind_of_delivery_gets_the_django_views_answer_and_stores_the_same(
    tenant: Tenant, other_tenant: Tenant, fixture_for: Any
) -> None:
    answers: dict[str, list[tuple[int, bytes]]] = {"wsgi": [], "django": []}
    stored: dict[str, list[tuple[str, int, str]]] = {}
    counted: dict[str, dict[tuple[str, str], float]] = {}
    for via, tenant_of_run in (("wsgi", tenant), ("django", other_tenant)):
        before = webhook_counts()
        evolution = number_of(tenant_of_run, name=f"{via}-wa1")
        greenapi = number_of(tenant_of_run, "greenapi", name=f"{via}-green")
        for name, (path, body, headers) in cases(evolution, greenapi, fixture_for).items():
            if via == "wsgi":
                status, _, content = through_wsgi(path, body, headers)
            else:
                status, content = through_django(path, body, headers)
            assert status == EXPECTED[name], (via, name, content)
            answers[via].append((status, content))
        counted[via] = {key: n - before[key] for key, n in webhook_counts().items()}
        stored[via] = sorted(
            WebhookEvent.objects.filter(tenant=tenant_of_run).values_list(
                "event_name", "duplicates", "status"
            )
        )
    assert answers["wsgi"] == answers["django"]
    assert stored["wsgi"] == stored["django"] and len(stored["wsgi"]) == 3
    # Both count each delivery by its outcome, with its acknowledgement time.
    acks = {("evolution", "acks"): 6.0, ("greenapi", "acks"): 2.0}
    assert counted["wsgi"] == counted["django"] == {**COUNTED, **acks}


def test_a_request_id_is_kept_or_made_and_sent_back(tenant: Tenant, fixture_for: Any) -> None:
    number = number_of(tenant)
    body = json.dumps(fixture_for(number, "messages_upsert__text")).encode()
    headers = {**provider_headers(number, body), "X-Request-ID": "abc-123"}
    _, sent_back, content = through_wsgi(webhook_path(number), body, headers)
    assert sent_back["X-Request-ID"] == "abc-123"
    # Keep-alive senders need the length (no chunked framing for a 12-byte answer).
    assert sent_back["Content-Length"] == str(len(content))
    _, made, _ = through_wsgi(webhook_path(number), body, provider_headers(number, body))
    assert len(made["X-Request-ID"]) == 32


def test_the_database_down_is_a_503_envelope_the_provider_retries(
    tenant: Tenant, fixture_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = number_of(tenant)
    body = json.dumps(fixture_for(number, "messages_upsert__text")).encode()

    def down(values: dict[str, Any]) -> tuple[int, int]:
        raise OperationalError("connection refused")

    monkeypatch.setattr(ingest, "insert_or_count", down)
    status, headers, content = through_wsgi(
        webhook_path(number), body, provider_headers(number, body)
    )
    assert status == 503 and headers["Retry-After"]
    assert json.loads(content)["error"]["code"] == "service_unavailable"


def test_a_connection_that_broke_is_a_503_once_and_the_next_ack_reconnects(
    tenant: Tenant, fixture_for: Any
) -> None:
    number = number_of(tenant)

    def post(n: int) -> int:
        payload = fixture_for(number, "messages_upsert__text")
        payload["data"]["key"]["id"] = f"3EB0BROKEN{n}"
        body = json.dumps(payload).encode()
        return int(through_wsgi(webhook_path(number), body, provider_headers(number, body))[0])

    assert post(1) == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with psycopg.connect(test_database_url().replace("postgres://", "postgresql://")) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert post(2) == 503
    assert post(3) == 200
    assert WebhookEvent.objects.filter(number=number).count() == 2


def test_other_methods_and_paths_go_to_django(tenant: Tenant, fixture_for: Any) -> None:
    number = number_of(tenant)
    body = json.dumps(fixture_for(number, "messages_upsert__text")).encode()
    headers = provider_headers(number, body)
    assert through_wsgi(webhook_path(number), b"", headers, method="GET")[0] == 405
    assert through_wsgi("/webhooks/evolution/a/b/", body, headers)[0] == 404
    assert not WebhookEvent.objects.exists()


def test_plain_http_is_left_to_django_where_https_is_required(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = {"wsgi.url_scheme": "http"}
    assert fastpath.redirected(plain)
    assert not fastpath.redirected({**plain, "HTTP_X_FORWARDED_PROTO": "https"})
    assert not fastpath.redirected({"wsgi.url_scheme": "https"})
    settings.SECURE_SSL_REDIRECT = False
    assert not fastpath.redirected(plain)


def test_fifty_concurrent_copies_over_http_are_stored_once(
    tenant: Tenant, fixture_for: Any
) -> None:
    number = number_of(tenant)
    body = json.dumps(fixture_for(number, "messages_upsert__text")).encode()
    headers = {**provider_headers(number, body), "Content-Type": "application/json"}
    start = threading.Barrier(50)
    with running_gunicorn(workers=2, threads=8) as base:

        def post(_: int) -> int:
            start.wait(10)
            return requests.post(
                f"{base}{webhook_path(number)}", data=body, headers=headers, timeout=20
            ).status_code

        with ThreadPoolExecutor(50) as pool:
            statuses = list(pool.map(post, range(50)))
    assert statuses == [200] * 50
    event = WebhookEvent.objects.get(number=number)
    assert event.duplicates == 49


def test_each_ack_writes_one_access_line_with_its_route_and_status(
    tenant: Tenant, fixture_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    number = number_of(tenant)
    body = json.dumps(fixture_for(number, "messages_upsert__text")).encode()
    with caplog.at_level("INFO", logger="whatsapp_saas.access"):
        through_wsgi(webhook_path(number), body, provider_headers(number, body))
    lines = [r for r in caplog.records if r.name == "whatsapp_saas.access"]
    assert len(lines) == 1
    assert (lines[0].route, lines[0].http_status) == ("webhooks:receive", 200)  # type: ignore[attr-defined]
