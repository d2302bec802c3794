"""Inbound media: fetched by error class, checked, stored, served to its tenant only, purged."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
import responses
from django.core.files.storage import default_storage
from django.utils import timezone

from instances.models import Number
from messaging import media, media_tasks
from messaging.models import MediaFile, Message
from messaging.services import record_inbound
from notifications.models import Delivery, Endpoint
from providers.events import MessageKind, MessageReceived

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
KEY: dict[str, Any] = {
    "remoteJid": "5511888888888@s.whatsapp.net",
    "fromMe": False,
    "id": "3EB0IMG0000000000001",
}


@pytest.fixture
def number(evolution_number: Number, settings: Any) -> Number:
    """The Evolution number, with the instance token its media calls need."""
    settings.EVOLUTION_API_URL = "http://evolution.test"
    evolution_number.provider_token = "instance-token"
    evolution_number.save()
    return evolution_number


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock() as mock:
        yield mock


def image_message(number: Number, **source: Any) -> Message:
    """An inbound image as the dispatcher records it (with its MediaFile, pending)."""
    event = MessageReceived(
        provider=number.provider,
        instance=number.instance_name,
        raw={},
        message_id=str(KEY["id"]),
        chat_id=str(KEY["remoteJid"]),
        sender=str(KEY["remoteJid"]),
        message_type=MessageKind.IMAGE,
        mime_type="image/png",
        media_source=source or {"message": {"key": KEY, "message": {"imageMessage": {}}}},
    )
    return record_inbound(number, event)


def answer(rsps: Any, status: int = 201, **body: Any) -> None:
    """Evolution's getBase64FromMediaMessage answer."""
    data = {"mimetype": "image/png", "base64": base64.b64encode(PNG).decode(), **body}
    rsps.post(
        "http://evolution.test/chat/getBase64FromMediaMessage/acme-wa1", status=status, json=data
    )


def fetch(message: Message) -> MediaFile:
    """Run the fetch of the message's file once and re-read it."""
    found = MediaFile.objects.get(message=message)
    MediaFile.objects.filter(pk=found.pk).update(next_attempt_at=timezone.now())
    media.fetch(found.pk)
    return MediaFile.objects.get(pk=found.pk)


def test_the_file_is_fetched_with_the_message_as_received_and_served_with_its_type(
    number: Any, rsps: Any, api: Any
) -> None:
    message = image_message(number)
    answer(rsps)
    stored = fetch(message)
    assert (stored.status, stored.size, stored.mime_type) == ("stored", len(PNG), "image/png")
    sent = rsps.calls[0].request
    assert sent.headers["apikey"] == "instance-token"
    assert json.loads(sent.body) == {
        "message": {"key": KEY, "message": {"imageMessage": {}}},
        "convertToMp4": False,
    }
    file = api.get(f"/api/v1/messages/{message.pk}/media/", HTTP_ACCEPT="image/*")
    assert file.status_code == 200 and file["Content-Type"] == "image/png"
    assert b"".join(file.streaming_content) == PNG
    assert "sandbox" in file["Content-Security-Policy"]


def test_another_tenants_file_is_not_found_and_a_key_without_read_scope_is_refused(
    number: Any, rsps: Any, other_tenant: Any, make_key: Any, client_for: Any
) -> None:
    message = image_message(number)
    answer(rsps)
    fetch(message)
    stranger = client_for(make_key(other_tenant)[1])
    assert stranger.get(f"/api/v1/messages/{message.pk}/media/").status_code == 404
    sender_only = client_for(make_key(number.tenant, scopes=["messages:send"])[1])
    assert sender_only.get(f"/api/v1/messages/{message.pk}/media/").status_code == 403


def test_a_file_declared_too_large_is_never_downloaded(
    number: Any, rsps: Any, settings: Any
) -> None:
    settings.MEDIA_MAX_BYTES = 1000
    message = image_message(
        number, message={"key": KEY, "message": {"imageMessage": {}}}, size=5000
    )
    assert fetch(message).status == "too_large" and not rsps.calls


def test_a_download_over_the_limit_is_too_large(number: Any, rsps: Any, settings: Any) -> None:
    settings.MEDIA_MAX_BYTES = 10
    message = image_message(number)
    answer(rsps)
    found = fetch(message)
    assert found.status == "too_large" and not found.file
    assert not default_storage.exists(f"media/{number.tenant_id}")


def test_markup_that_claims_to_be_an_image_is_refused(number: Any, rsps: Any) -> None:
    message = image_message(number)
    html = base64.b64encode(b"<html><script>alert(1)</script></html>").decode()
    answer(rsps, base64=html)
    found = fetch(message)
    assert found.status == "failed" and found.error.startswith("type_not_allowed")


def test_a_transient_failure_is_retried_later_and_a_refusal_fails_at_once(
    number: Any, rsps: Any, settings: Any
) -> None:
    settings.MEDIA_MAX_ATTEMPTS = 2
    message = image_message(number)
    rsps.post(
        "http://evolution.test/chat/getBase64FromMediaMessage/acme-wa1",
        status=500,
        json={"status": 500, "error": "Internal Server Error", "response": {"message": ["x"]}},
    )
    found = fetch(message)
    assert found.status == "pending" and found.attempts == 1
    assert found.next_attempt_at is not None and found.next_attempt_at > timezone.now()
    assert found.lease_token is None
    assert media.fetch(found.pk) == "skipped"  # not due yet
    assert fetch(message).status == "failed"  # out of attempts

    other = Message.objects.create(
        tenant=number.tenant,
        number=number,
        conversation=message.conversation,
        direction="inbound",
        provider_message_id="3EB0IMG0000000000002",
    )
    media.register_many([(other, {"message": {"key": {**KEY, "id": other.provider_message_id}}})])
    rsps.replace(
        responses.POST,
        "http://evolution.test/chat/getBase64FromMediaMessage/acme-wa1",
        status=400,
        json={
            "status": 400,
            "error": "Bad Request",
            "response": {"message": ["Message not found"]},
        },
    )
    refused = fetch(other)
    assert refused.status == "failed" and refused.attempts == 1


def test_a_file_being_fetched_by_one_worker_is_not_taken_by_another(number: Any) -> None:
    message = image_message(number)
    found = MediaFile.objects.get(message=message)
    assert media.claim(found.pk) is not None
    assert media.claim(found.pk) is None and media.fetch(found.pk) == "skipped"


def test_the_message_is_recorded_and_announced_before_its_file(
    number: Any, rsps: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(media_tasks.fetch_media, "delay", lambda media_id: None)
    Endpoint.objects.create(
        tenant=number.tenant,
        url="https://hooks.example.com/in",
        event_types=["message.received", "message.updated"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        message = image_message(number)
    assert Delivery.objects.filter(event_type="message.received").count() == 1
    assert not Delivery.objects.filter(event_type="message.updated").exists()
    answer(rsps)
    with django_capture_on_commit_callbacks(execute=True):
        fetch(message)
    update = Delivery.objects.get(event_type="message.updated")
    assert update.payload["data"]["media"]["status"] == "stored"


def test_files_past_retention_are_deleted_and_the_message_says_so(
    number: Any, rsps: Any, api: Any
) -> None:
    message = image_message(number)
    answer(rsps)
    found = fetch(message)
    MediaFile.objects.filter(pk=found.pk).update(stored_at=timezone.now() - timedelta(days=91))
    assert media.purge_expired(90) == 1
    assert not default_storage.exists(str(found.file.name))
    shown = api.get(f"/api/v1/messages/{message.pk}/").json()
    assert shown["media"]["status"] == "expired" and shown["media_url"] is None
    gone = api.get(f"/api/v1/messages/{message.pk}/media/")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "media_unavailable"


def test_a_deleted_message_shows_neither_text_nor_media(number: Any, rsps: Any, api: Any) -> None:
    message = image_message(number)
    answer(rsps)
    fetch(message)
    Message.objects.filter(pk=message.pk).update(deleted_at=timezone.now(), caption="secret")
    shown = api.get(f"/api/v1/messages/{message.pk}/").json()
    assert (shown["media"], shown["media_url"], shown["caption"], shown["text"]) == (
        None,
        None,
        "",
        "",
    )
    assert api.get(f"/api/v1/messages/{message.pk}/media/").status_code == 404
