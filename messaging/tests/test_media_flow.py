"""Inbound media over real HTTP: the sandbox posts the message, we fetch, check, store and serve."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from instances import services
from instances.models import Number
from messaging import media_tasks
from messaging.models import MediaFile, Message
from webhooks.tests.flow import live_numbers, process_received, stored, wait_for

__all__ = ["live_numbers"]
pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "5511888888888"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
OGG = b"OggS\x00\x02" + bytes(22) + b"\x01\x13OpusHead" + bytes(64)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
FILES: dict[str, tuple[bytes, dict[str, Any]]] = {
    "image": (PNG, {"type": "image", "mimetype": "image/png", "caption": "Our invoice"}),
    "voice note": (OGG, {"type": "audio", "mimetype": "audio/ogg; codecs=opus", "ptt": True}),
    "document": (
        PDF,
        {"type": "document", "mimetype": "application/pdf", "fileName": "invoice.pdf"},
    ),
}
INBOUND_EVENT = {"evolution": "messages.upsert", "greenapi": "incomingMessageReceived"}


def connected(number: Number, sandbox: Any) -> Number:
    """Scan the number in the sandbox and apply the connection webhook."""
    number = services.connect(number)
    key = number.instance_name if number.provider == "evolution" else number.provider_instance_id
    sandbox.scan(number.provider, key, phone="5511988887777")
    opened = (
        (":open:", "connection.update")
        if number.provider == "evolution"
        else (
            ":authorized:",
            "stateInstanceChanged",
        )
    )
    wait_for(stored(number, opened[1], opened[0]))
    process_received()
    number.refresh_from_db()
    assert number.status == "connected"
    return number


def receive(number: Number, sandbox: Any, spec: dict[str, Any], data: bytes) -> str:
    """A customer sends a file; returns the provider's message id."""
    key = number.instance_name if number.provider == "evolution" else number.provider_instance_id
    media = {**spec, "base64": base64.b64encode(data).decode()}
    return str(sandbox.inbound(number.provider, key, **{"from": CUSTOMER, "media": media})["id"])


def fetch_pending() -> None:
    """What the `events` worker does for every woken file."""
    for media_id in MediaFile.objects.filter(status="pending").values_list("pk", flat=True):
        media_tasks.fetch_media(media_id)


@pytest.mark.parametrize("provider", ["evolution", "greenapi"])
def test_an_image_a_voice_note_and_a_document_are_stored_and_served_with_their_bytes(
    provider: Any, live_numbers: Any, sandbox: Any, api: Any
) -> None:
    number = connected(live_numbers(provider), sandbox)
    ids = {name: receive(number, sandbox, spec, data) for name, (data, spec) in FILES.items()}
    wait_for(stored(number, INBOUND_EVENT[provider], count=3))
    process_received()

    messages = {m.provider_message_id: m for m in Message.objects.filter(direction="inbound")}
    assert len(messages) == 3
    first = api.get(f"/api/v1/messages/{messages[ids['image']].pk}/media/")
    assert first.status_code == 409 and first.json()["error"]["code"] == "media_not_ready"
    assert api.get(f"/api/v1/messages/{messages[ids['image']].pk}/").json()["media"] == {
        "status": "pending",
        "mime_type": "image/png",
        "size": None if provider == "greenapi" else len(PNG),
        "file_name": "" if provider == "evolution" else "image.png",
    }

    fetch_pending()
    for name, (data, spec) in FILES.items():
        shown = api.get(f"/api/v1/messages/{messages[ids[name]].pk}/").json()
        assert shown["media"]["status"] == "stored", (name, shown["media"])
        assert shown["media"]["size"] == len(data)
        assert shown["media_url"].endswith(f"/api/v1/messages/{messages[ids[name]].pk}/media/")
        file = api.get(shown["media_url"])
        assert file.status_code == 200, name
        assert b"".join(file.streaming_content) == data
        assert file["Content-Type"] == spec["mimetype"]
    document = api.get(f"/api/v1/messages/{messages[ids['document']].pk}/media/")
    assert document["Content-Disposition"] == 'attachment; filename="invoice.pdf"'


def test_a_greenapi_download_url_into_our_network_is_never_fetched(
    live_numbers: Any, sandbox: Any, api: Any
) -> None:
    number = connected(live_numbers("greenapi"), sandbox)
    spec = {"type": "image", "mimetype": "image/png", "url": "http://10.1.2.3/media/secret"}
    receive(number, sandbox, spec, PNG)
    wait_for(stored(number, "incomingMessageReceived"))
    process_received()
    fetch_pending()
    found = MediaFile.objects.get()
    assert found.status == "failed" and found.error.startswith("url_not_allowed")
    answer = api.get(f"/api/v1/messages/{found.message_id}/media/")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "media_unavailable"
