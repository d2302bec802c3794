"""Authenticated but hostile deliveries: answered 400 or 403, never 500, and never applied."""

from __future__ import annotations

import json
import time

import pytest

from instances.models import ConnectionEvent, Number
from messaging.models import Contact, Message
from webhooks import processing
from webhooks.auth import SIGNATURE_HEADER, sign
from webhooks.fixtures import provider_headers
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
UPSERT = "messages_upsert__text"


@pytest.mark.parametrize("provider", ["evolution", "greenapi"])
@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_json_nested_beyond_reason_is_a_400_malformed_body(
    deliver, evolution_number, greenapi_number, provider, depth
):
    number = evolution_number if provider == "evolution" else greenapi_number
    body = b'{"event": ' + b"[" * depth + b"]" * depth + b"}"
    response = deliver(number, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    assert WebhookEvent.objects.get().status == "failed"


def signed_headers(number, body: bytes, stamp: str, digest: str | None = None) -> dict[str, str]:
    """The provider's headers with a signature whose timestamp (and maybe digest) is given."""
    digest = digest or sign(number.webhook_secret, body, int(time.time()))
    return {**provider_headers(number, body), SIGNATURE_HEADER: f"t={stamp},v1={digest}"}


@pytest.mark.parametrize(
    "stamp",
    ["²", "1²", "١٧٠٠٠٠٠٠٠٠", "１７００００００００", "9" * 5000, "-1", "+1700000000", " 1"],
    ids=[
        "superscript",
        "digit-then-superscript",
        "arabic",
        "fullwidth",
        "5000-digits",
        "minus",
        "plus",
        "space",
    ],
)
def test_a_signature_timestamp_that_is_not_ascii_digits_is_a_403(
    deliver, evolution_number, fixture_for, stamp
):
    body = json.dumps(fixture_for(evolution_number, UPSERT)).encode()
    response = deliver(
        evolution_number, body, headers=signed_headers(evolution_number, body, stamp)
    )
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("digest", ["é" * 64, "g" * 64, "ab" * 40])
def test_a_signature_digest_that_is_not_hex_is_a_403(
    deliver, evolution_number, fixture_for, digest
):
    body = json.dumps(fixture_for(evolution_number, UPSERT)).encode()
    headers = signed_headers(evolution_number, body, str(int(time.time())), digest)
    assert deliver(evolution_number, body, headers=headers).status_code == 403
    assert not WebhookEvent.objects.exists()


def test_a_right_ascii_signature_is_still_accepted(deliver, evolution_number, fixture_for):
    body = json.dumps(fixture_for(evolution_number, UPSERT)).encode()
    stamp = int(time.time())
    digest = sign(evolution_number.webhook_secret, body, stamp)
    headers = signed_headers(evolution_number, body, str(stamp), digest.upper())
    assert deliver(evolution_number, body, headers=headers).status_code == 200


def deliver_and_process(deliver, number, payload) -> WebhookEvent:
    """Deliver an authentic payload and run the processing task on it, as the worker would."""
    assert deliver(number, payload).status_code == 200
    event = WebhookEvent.objects.get()
    assert processing.process(event.pk) == "invalid"
    event.refresh_from_db()
    return event


def unchanged(number) -> tuple:
    """What a hostile event must not move."""
    number.refresh_from_db()
    return (
        number.status,
        number.status_reason,
        number.qr_code,
        number.phone_number,
        ConnectionEvent.objects.filter(number=number).count(),
    )


def test_a_state_given_as_a_list_leaves_a_connected_number_connected(
    deliver, evolution_number, fixture_for
):
    before = unchanged(evolution_number)
    payload = fixture_for(evolution_number, "connection_update__open")
    payload["data"]["state"] = ["open"]
    event = deliver_and_process(deliver, evolution_number, payload)
    assert unchanged(evolution_number) == before and before[0] == "connected"
    assert (event.event_type, event.error) == (
        "invalid",
        "data.state: expected text of at most 64 characters, got a list",
    )


def test_a_qr_given_as_a_number_leaves_the_number_as_it_was(deliver, evolution_number, fixture_for):
    Number.objects.filter(pk=evolution_number.pk).update(status="connecting")
    before = unchanged(evolution_number)
    payload = fixture_for(evolution_number, "qrcode_updated__qr")
    payload["data"]["qrcode"]["base64"] = 7
    event = deliver_and_process(deliver, evolution_number, payload)
    assert unchanged(evolution_number) == before and before[0] == "connecting"
    assert event.error.startswith("data.qrcode.base64: expected text")


def test_a_5000_character_remote_jid_is_an_invalid_event_never_retried(
    deliver, evolution_number, fixture_for, operator
):
    payload = fixture_for(evolution_number, "messages_upsert__text")
    payload["data"]["key"]["remoteJid"] = "5" * 4985 + "@s.whatsapp.net"
    event = deliver_and_process(deliver, evolution_number, payload)
    assert (event.status, event.attempts) == ("invalid", 1)
    assert "data.key.remoteJid: expected text of at most 120 characters" in event.error
    assert not Message.objects.exists() and not Contact.objects.exists()
    # Neither a new task nor the redrive takes it again.
    assert processing.process(event.pk) == "skipped" and processing.redrive() == 0
    listing = operator.get("/admin/webhooks/webhookevent/?status__exact=invalid").content.decode()
    assert f"/admin/webhooks/webhookevent/{event.pk}/change/" in listing
    detail = operator.get(f"/admin/webhooks/webhookevent/{event.pk}/change/").content.decode()
    assert "data.key.remoteJid: expected text of at most 120 characters" in detail


@pytest.mark.parametrize(
    ("provider", "fixture", "path", "value"),
    [
        ("evolution", "messages_upsert__text", "data.pushName", "n" * 201),
        ("evolution", "messages_upsert__text", "data.key.fromMe", "false"),
        ("evolution", "messages_upsert__text", "data.messageTimestamp", "soon"),
        ("evolution", "messages_upsert__image", "data.message.imageMessage.mimetype", "m" * 101),
        ("evolution", "messages_update__read", "data.keyId", "k" * 129),
        ("evolution", "connection_update__open", "data.wuid", "5" * 30 + "@s.whatsapp.net"),
        ("evolution", "qrcode_updated__pairing_code", "data.qrcode.pairingCode", "P" * 17),
        ("greenapi", "incomingMessageReceived__text", "senderData.chatId", 79001234568),
        ("greenapi", "incomingMessageReceived__document", "messageData.fileMessageData", "x"),
        ("greenapi", "outgoingMessageStatus__failed", "description", {"why": "?"}),
        ("greenapi", "stateInstanceChanged__authorized", "timestamp", [1588091580]),
    ],
)
def test_a_field_of_the_wrong_type_or_size_is_an_invalid_event(
    deliver, evolution_number, greenapi_number, fixture_for, provider, fixture, path, value
):
    number = evolution_number if provider == "evolution" else greenapi_number
    payload = fixture_for(number, fixture)
    *parents, last = path.split(".")
    node = payload
    for part in parents:
        node = node[part]
    node[last] = value
    before = unchanged(number)
    event = deliver_and_process(deliver, number, payload)
    assert event.error.startswith(path + ": expected")
    assert unchanged(number) == before and not Message.objects.exists()
