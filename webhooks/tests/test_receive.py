"""The endpoint: authenticate before parsing, store once, answer fast, refuse what is not ours."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from webhooks.auth import SIGNATURE_HEADER, signature_header
from webhooks.fixtures import provider_headers
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
UPSERT = "messages_upsert__text"


def security_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Messages logged on the `security` logger."""
    return [r.getMessage() for r in caplog.records if r.name == "security"]


def test_an_authentic_delivery_is_stored_once_enqueued_on_commit_and_answered_200(
    deliver, evolution_number, fixture_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = deliver(evolution_number, fixture_for(evolution_number, UPSERT))
    assert response.status_code == 200 and response.json() == {"ok": True}
    event = WebhookEvent.objects.get()
    assert (event.provider, event.number, event.tenant_id) == (
        "evolution",
        evolution_number,
        evolution_number.tenant_id,
    )
    assert (event.event_name, event.status, event.duplicates) == ("messages.upsert", "received", 0)
    assert event.dedupe_key == "acme-wa1:message:3EB0C767D097B7C7C030:False"
    assert event.payload()["data"]["key"]["id"] == "3EB0C767D097B7C7C030"
    # The secret header is never kept.
    assert event.headers == {"Content-Type": "application/json"}
    assert len(callbacks) == 1


def test_a_repeated_delivery_is_answered_200_counted_and_not_enqueued_again(
    deliver, evolution_number, fixture_for, django_capture_on_commit_callbacks
):
    payload = fixture_for(evolution_number, UPSERT)
    deliver(evolution_number, payload)
    with django_capture_on_commit_callbacks() as callbacks:
        responses = [deliver(evolution_number, payload) for _ in range(3)]
    assert [r.status_code for r in responses] == [200] * 3
    assert WebhookEvent.objects.get().duplicates == 3
    assert callbacks == []


@pytest.mark.parametrize(
    "headers", [{}, {"X-Webhook-Token": "not-the-secret"}, {"Authorization": "Bearer whatever"}]
)
def test_a_wrong_or_missing_evolution_secret_header_gets_403_and_stores_nothing(
    deliver, evolution_number, fixture_for, caplog, headers
):
    response = deliver(evolution_number, fixture_for(evolution_number, UPSERT), headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not WebhookEvent.objects.exists()
    assert any(line.startswith("webhook refused") for line in security_lines(caplog))


@pytest.mark.parametrize(
    "headers", [{"Authorization": "Bearer forged"}, {"Authorization": "forged"}, {}]
)
def test_a_forged_greenapi_token_gets_200_and_applies_nothing_the_real_one_is_stored(
    deliver: Any, greenapi_number: Any, fixture_for: Any, caplog: Any, headers: dict[str, str]
) -> None:
    """Any non-200 makes GreenAPI resend for 24 h and hold that instance's queue (Corrections)."""
    payload = fixture_for(greenapi_number, "incomingMessageReceived__text")
    forged = deliver(greenapi_number, payload, headers=headers)
    assert forged.status_code == 200 and not WebhookEvent.objects.exists()
    assert any(line.startswith("webhook refused") for line in security_lines(caplog))
    assert deliver(greenapi_number, payload).status_code == 200
    assert WebhookEvent.objects.get().event_name == "incomingMessageReceived"


def test_greenapi_may_send_the_token_bare(
    deliver: Any, greenapi_number: Any, fixture_for: Any
) -> None:
    payload = fixture_for(greenapi_number, "incomingMessageReceived__text")
    bare = {"Authorization": greenapi_number.webhook_secret}
    assert deliver(greenapi_number, payload, headers=bare).status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_the_previous_secret_is_accepted_during_a_rotation(deliver, evolution_number, fixture_for):
    old = evolution_number.webhook_secret
    evolution_number.previous_webhook_secret, evolution_number.webhook_secret = old, "new-secret"
    evolution_number.save()
    payload = fixture_for(evolution_number, UPSERT)
    assert (
        deliver(
            evolution_number, payload, headers=provider_headers(evolution_number, b"", secret=old)
        ).status_code
        == 200
    )
    assert (
        deliver(
            evolution_number,
            payload,
            headers=provider_headers(evolution_number, b"", secret="older"),
        ).status_code
        == 403
    )


def test_a_valid_signature_is_accepted(deliver, evolution_number, fixture_for):
    response = deliver(evolution_number, fixture_for(evolution_number, UPSERT), sign=True)
    assert response.status_code == 200 and WebhookEvent.objects.count() == 1


@pytest.mark.parametrize(
    "problem", ["bad signature", "stale timestamp", "mutated body", "malformed header"]
)
def test_a_bad_or_stale_signature_gets_403_and_stores_nothing(
    deliver, evolution_number, fixture_for, caplog, problem
):
    body = json.dumps(fixture_for(evolution_number, UPSERT)).encode()
    secret = evolution_number.webhook_secret
    signature = {
        "bad signature": signature_header("another-secret", body),
        "stale timestamp": signature_header(secret, body, int(time.time()) - 301),
        "mutated body": signature_header(secret, body + b" "),
        "malformed header": "v1=abc",
    }[problem]
    headers = {**provider_headers(evolution_number, body), SIGNATURE_HEADER: signature}
    response = deliver(evolution_number, body, headers=headers)
    assert response.status_code == 403 and not WebhookEvent.objects.exists()
    assert security_lines(caplog)


def test_a_payload_naming_another_instance_is_refused_and_stores_nothing(
    deliver, evolution_number, greenapi_number, fixture_for
):
    evo = fixture_for(evolution_number, UPSERT) | {"instance": "someone-else"}
    green = fixture_for(greenapi_number, "incomingMessageReceived__text")
    green["instanceData"]["idInstance"] = 999
    assert deliver(evolution_number, evo).status_code == 403
    assert deliver(greenapi_number, green).status_code == 200
    assert not WebhookEvent.objects.exists()


def test_an_unknown_token_gets_200_a_security_line_and_nothing_stored(
    client, evolution_number, fixture_for, caplog
):
    body = json.dumps(fixture_for(evolution_number, UPSERT))
    response = client.post(
        "/webhooks/evolution/no-such-token/",
        body,
        content_type="application/json",
        headers=provider_headers(evolution_number, b""),
    )
    assert response.status_code == 200
    assert not WebhookEvent.objects.exists()
    assert "webhook for an unknown token" in security_lines(caplog)
    assert "no-such-token" not in caplog.text


def test_a_token_posted_to_another_providers_url_is_refused(
    client, evolution_number, greenapi_number, fixture_for
):
    to_green = client.post(
        f"/webhooks/greenapi/{evolution_number.webhook_token}/",
        json.dumps(fixture_for(evolution_number, UPSERT)),
        content_type="application/json",
        headers={"Authorization": f"Bearer {evolution_number.webhook_secret}"},
    )
    to_evolution = client.post(
        f"/webhooks/evolution/{greenapi_number.webhook_token}/",
        json.dumps(fixture_for(greenapi_number, "incomingMessageReceived__text")),
        content_type="application/json",
        headers=provider_headers(greenapi_number, b"", secret=greenapi_number.webhook_secret),
    )
    assert (to_green.status_code, to_evolution.status_code) == (200, 403)
    assert not WebhookEvent.objects.exists()


def test_a_deleted_numbers_token_is_unknown(deliver, evolution_number, fixture_for):
    evolution_number.deletion_requested_at = evolution_number.created_at
    evolution_number.save()
    assert deliver(evolution_number, fixture_for(evolution_number, UPSERT)).status_code == 200
    assert not WebhookEvent.objects.exists()


def test_a_body_over_one_mebibyte_gets_413(deliver, evolution_number):
    response = deliver(evolution_number, b"{" + b" " * (1024 * 1024) + b"}")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not WebhookEvent.objects.exists()


def test_a_body_at_the_limit_is_read(deliver, evolution_number, fixture_for, settings):
    body = json.dumps(fixture_for(evolution_number, UPSERT)).encode()
    settings.WEBHOOK_MAX_BODY_BYTES = len(body)
    assert deliver(evolution_number, body).status_code == 200
    settings.WEBHOOK_MAX_BODY_BYTES = len(body) - 1
    assert deliver(evolution_number, body).status_code == 413


def test_malformed_json_from_an_authentic_sender_is_400_and_kept_failed(
    deliver, evolution_number, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = deliver(evolution_number, b'{"event": "messages.upsert", ')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    event = WebhookEvent.objects.get()
    assert event.status == "failed" and bytes(event.body) == b'{"event": "messages.upsert", '
    assert callbacks == []


def test_malformed_json_from_anyone_else_is_403_and_not_kept(deliver, evolution_number):
    response = deliver(evolution_number, b"not json", headers={"X-Webhook-Token": "guess"})
    assert response.status_code == 403 and not WebhookEvent.objects.exists()


def test_an_unknown_event_is_stored_and_answered_200(deliver, evolution_number, fixture_for):
    response = deliver(
        evolution_number, fixture_for(evolution_number, "presence_update__composing")
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.get().event_name == "presence.update"


def test_only_post_is_allowed(client, evolution_number):
    response = client.get(f"/webhooks/evolution/{evolution_number.webhook_token}/")
    assert response.status_code == 405 and not WebhookEvent.objects.exists()


def test_a_refusal_never_logs_the_secret(deliver, evolution_number, fixture_for, caplog):
    caplog.set_level(logging.DEBUG)
    deliver(evolution_number, fixture_for(evolution_number, UPSERT) | {"instance": "other"})
    assert evolution_number.webhook_secret not in caplog.text
