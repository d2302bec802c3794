"""POST/GET /api/v1/messages/ and /conversations/ (API.md "Messages")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from instances.models import Number
from messaging import lanes, wakeup
from messaging.models import Message

from .fixtures import sent_at_provider

pytestmark = pytest.mark.django_db
URL = "/api/v1/messages/"
FIELDS = {
    "id",
    "number",
    "conversation",
    "direction",
    "to",
    "from",
    "type",
    "text",
    "media_url",
    "caption",
    "status",
    "provider_message_id",
    "client_message_id",
    "error",
    "attempts",
    "created_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "media",
    "reply_to",
    "reactions",
    "edited_at",
    "deleted_at",
}


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Numbers whose lane was woken (instead of a broker)."""
    calls: list[str] = []
    monkeypatch.setattr(wakeup, "wake", lambda number_id, *a, **k: calls.append(str(number_id)))
    return calls


def body(sender: Number, **fields: Any) -> dict[str, Any]:
    """A valid text send from `sender`, changed by `fields`."""
    return {
        "number": str(sender.pk),
        "to": "+55 11 98888-1234",
        "type": "text",
        "text": "Hi",
        **fields,
    }


def test_a_text_is_accepted_queued_and_its_lane_woken_after_commit(
    api, evolution_number, woken, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, body(evolution_number), format="json")
    assert response.status_code == 202, response.json()
    data = response.json()
    assert set(data) == FIELDS
    assert (data["status"], data["to"], data["from"], data["direction"]) == (
        "queued",
        "5511988881234",
        "5511999999999",
        "outbound",
    )
    assert data["error"] is None and data["attempts"] == 0
    message = Message.objects.get()
    assert woken == [str(evolution_number.pk)] and data["conversation"] == str(
        message.conversation_id
    )
    assert message.conversation.contact.phone == "5511988881234"
    assert message.expires_at is not None
    assert message.expires_at - message.created_at > timedelta(hours=23)


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"to": "1234567"}, "to"),
        ({"to": "1234567890123456"}, "to"),
        ({"to": "55abc11999"}, "to"),
        ({"text": ""}, "text"),
        ({"text": "x" * 4097}, "text"),
        ({"type": "sticker"}, "type"),
        ({"type": "image", "text": ""}, "media_url"),
        ({"type": "image", "text": "", "media_url": "ftp://x.example/a.png"}, "media_url"),
        ({"media_url": "https://x.example/a.png"}, "media_url"),
        ({"number": "not-a-uuid"}, "number"),
    ],
)
def test_an_invalid_send_is_a_400_naming_the_field(api, evolution_number, fields, bad):
    response = api.post(URL, body(evolution_number, **fields), format="json")
    assert response.status_code == 400
    assert bad in response.json()["error"]["details"]
    assert not Message.objects.exists()


def test_text_of_4096_characters_is_accepted(api, evolution_number):
    response = api.post(URL, body(evolution_number, text="x" * 4096), format="json")
    assert response.status_code == 202


def test_another_tenants_number_is_a_400_naming_number(
    client_for, make_key, other_tenant, evolution_number
):
    response = client_for(make_key(other_tenant)[1]).post(
        URL, body(evolution_number), format="json"
    )
    assert response.status_code == 400 and "number" in response.json()["error"]["details"]


@pytest.mark.parametrize("status", ["banned", "logged_out", "deleted"])
def test_a_number_that_cannot_send_is_a_409_naming_its_status(api, evolution_number, status):
    fields = (
        {"deletion_requested_at": timezone.now()} if status == "deleted" else {"status": status}
    )
    Number.objects.filter(pk=evolution_number.pk).update(**fields)
    response = api.post(URL, body(evolution_number), format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["details"]["status"]) == ("number_unavailable", status)


@pytest.mark.parametrize("status", ["disconnected", "connecting", "paused", "qr_pending"])
def test_a_number_not_connected_still_accepts_and_queues(api, evolution_number, status):
    Number.objects.filter(pk=evolution_number.pk).update(status=status)
    response = api.post(URL, body(evolution_number), format="json")
    assert response.status_code == 202 and response.json()["status"] == "queued"


def test_a_replay_with_the_same_key_and_body_returns_the_first_message_and_sends_once(
    api, linked, sandbox
):
    headers = {"Idempotency-Key": "order-42"}
    first = api.post(URL, body(linked), format="json", headers=headers)
    again = api.post(URL, body(linked, to="5511988881234"), format="json", headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert (
        again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    )
    assert first.json()["client_message_id"] == "order-42"
    lanes.run(linked.pk)
    assert Message.objects.count() == 1 and len(sent_at_provider(sandbox)) == 1


def test_the_same_key_with_another_body_is_a_409(api, evolution_number):
    headers = {"Idempotency-Key": "order-42"}
    first = api.post(URL, body(evolution_number), format="json", headers=headers)
    other = api.post(URL, body(evolution_number, text="Changed"), format="json", headers=headers)
    assert other.status_code == 409
    error = other.json()["error"]
    assert (error["code"], error["details"]["message_id"]) == (
        "idempotency_conflict",
        first.json()["id"],
    )
    assert Message.objects.count() == 1


def test_client_message_id_is_an_idempotency_key_too(api, evolution_number):
    sent = [
        api.post(URL, body(evolution_number, client_message_id="c-1"), format="json")
        for _ in range(2)
    ]
    assert [r.status_code for r in sent] == [202, 200] and Message.objects.count() == 1
    mismatch = api.post(
        URL,
        body(evolution_number, client_message_id="c-2"),
        format="json",
        headers={"Idempotency-Key": "c-3"},
    )
    assert (
        mismatch.status_code == 400 and "client_message_id" in mismatch.json()["error"]["details"]
    )


def test_keys_are_per_tenant(api, client_for, make_key, other_tenant, evolution_number):
    other_number = Number.objects.create(
        tenant=other_tenant,
        name="X",
        provider="evolution",
        instance_name="globex-1",
        status="connected",
    )
    headers = {"Idempotency-Key": "same"}
    assert api.post(URL, body(evolution_number), format="json", headers=headers).status_code == 202
    other = client_for(make_key(other_tenant)[1])
    assert other.post(URL, body(other_number), format="json", headers=headers).status_code == 202


def test_sending_needs_the_send_scope_and_reading_the_read_scope(
    client_for, make_key, tenant, evolution_number
):
    reader = client_for(make_key(tenant, scopes=["messages:read"])[1])
    sender = client_for(make_key(tenant, scopes=["messages:send"])[1])
    assert reader.post(URL, body(evolution_number), format="json").status_code == 403
    assert sender.post(URL, body(evolution_number), format="json").status_code == 202
    assert sender.get(URL).status_code == 403 and reader.get(URL).status_code == 200


def test_lists_filter_and_detail_shows_one_message(api, evolution_number):
    ids = [
        api.post(URL, body(evolution_number, to=to), format="json").json()["id"]
        for to in ("5511911111111", "5511922222222")
    ]
    Message.objects.filter(pk=ids[0]).update(status="failed", error_code="expired")
    page = api.get(URL).json()
    assert [m["id"] for m in page["results"]] == ids[::-1] and page["next"] is None
    assert [m["id"] for m in api.get(URL, {"to": "5511922222222"}).json()["results"]] == [ids[1]]
    assert [m["id"] for m in api.get(URL, {"status": "failed"}).json()["results"]] == [ids[0]]
    assert (
        len(
            api.get(URL, {"number": str(evolution_number.pk), "direction": "outbound"}).json()[
                "results"
            ]
        )
        == 2
    )
    detail = api.get(f"{URL}{ids[0]}/").json()
    assert detail["error"] == {"code": "expired", "message": ""}


def test_another_tenants_message_is_not_found(
    api, client_for, make_key, other_tenant, evolution_number
):
    message_id = api.post(URL, body(evolution_number), format="json").json()["id"]
    other = client_for(make_key(other_tenant)[1])
    assert other.get(f"{URL}{message_id}/").status_code == 404
    assert other.get(URL).json()["results"] == []


def test_conversations_list_their_contact_and_messages(
    api, evolution_number, client_for, make_key, other_tenant
):
    first = api.post(URL, body(evolution_number), format="json").json()
    api.post(URL, body(evolution_number, text="Second"), format="json")
    conversations = api.get("/api/v1/conversations/").json()["results"]
    assert len(conversations) == 1 and conversations[0]["id"] == first["conversation"]
    assert conversations[0]["contact"]["phone"] == "5511988881234"
    url = f"/api/v1/conversations/{first['conversation']}/messages/"
    assert [m["text"] for m in api.get(url).json()["results"]] == ["Second", "Hi"]
    assert client_for(make_key(other_tenant)[1]).get(url).status_code == 404
