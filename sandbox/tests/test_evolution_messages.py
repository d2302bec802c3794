"""Evolution messages over HTTP: sends, receipts (ordered, reversed, repeated), inbound upserts."""

from __future__ import annotations

import re
from typing import Any

from sandbox.testing import SandboxServer, WebhookReceiver
from sandbox.tests.helpers import evo, open_evolution


def statuses(receiver: WebhookReceiver) -> list[str]:
    """Return the messages.update statuses received, in order."""
    return [r.body["data"]["status"] for r in receiver.of("messages.update")]


def send_text(
    sandbox: SandboxServer, text: str = "Hello", number: str = "5511888888888"
) -> dict[str, Any]:
    """Send a text through the Evolution API and return the 201 body."""
    response = evo(sandbox, "POST", "/message/sendText/wa1", json={"number": number, "text": text})
    assert response.status_code == 201, response.text
    sent: dict[str, Any] = response.json()
    return sent


def test_send_text_returns_a_baileys_key_and_emits_send_message(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    sent = send_text(sandbox)
    assert re.fullmatch(r"3EB0[0-9A-F]{16}", sent["key"]["id"])
    assert sent["key"] == {
        "remoteJid": "5511888888888@s.whatsapp.net",
        "fromMe": True,
        "id": sent["key"]["id"],
    }
    assert sent["status"] == "PENDING" and sent["message"] == {"conversation": "Hello"}
    assert sent["messageType"] == "conversation" and isinstance(sent["messageTimestamp"], int)
    echoed = receiver.wait_for_event("send.message")[0]
    assert echoed.body["data"] == sent


def test_receipts_follow_in_order_by_default(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    sent = send_text(sandbox)
    sandbox.advance(1)
    receiver.wait_for_event("messages.update", 1)
    sandbox.advance(10)
    updates = receiver.wait_for_event("messages.update", 3)
    assert statuses(receiver) == ["SERVER_ACK", "DELIVERY_ACK", "READ"]
    data = updates[0].body["data"]
    assert data["keyId"] == sent["key"]["id"] and data["fromMe"] is True
    assert set(data) == {
        "keyId",
        "remoteJid",
        "fromMe",
        "participant",
        "status",
        "pollUpdates",
        "instanceId",
        "messageId",
    }
    events = receiver.events()
    assert events.index("send.message") < events.index("messages.update")


def test_receipts_come_reversed_and_twice_when_asked(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    sandbox.settings(receipt_order="reverse", receipt_duplicate=True)
    open_evolution(sandbox, receiver)
    send_text(sandbox)
    sandbox.advance(10)
    receiver.wait_for_event("messages.update", 6)
    assert statuses(receiver) == [
        "READ",
        "READ",
        "DELIVERY_ACK",
        "DELIVERY_ACK",
        "SERVER_ACK",
        "SERVER_ACK",
    ]


def test_manual_receipts_are_emitted_exactly_as_listed(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    sandbox.settings(auto_receipts=False)
    open_evolution(sandbox, receiver)
    sent = send_text(sandbox)
    sandbox.receipts(sent["key"]["id"], ["read", "sent", "read", "delivered"])
    receiver.wait_for_event("messages.update", 4)
    assert statuses(receiver) == ["READ", "SERVER_ACK", "READ", "DELIVERY_ACK"]


def test_inbound_text_emits_messages_upsert_with_the_documented_shape(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    made = sandbox.inbound(
        "evolution", "wa1", **{"from": "5511777776666", "text": "Hi", "pushName": "Customer"}
    )
    data = receiver.wait_for_event("messages.upsert")[0].body["data"]
    assert data["key"]["remoteJid"] == "5511777776666@s.whatsapp.net"
    assert data["key"]["fromMe"] is False and data["key"]["id"] == made["id"]
    assert data["pushName"] == "Customer" and data["status"] == "DELIVERY_ACK"
    assert data["message"] == {"conversation": "Hi"} and data["messageType"] == "conversation"
    # 2.3.6 leaves contextInfo out (undefined) rather than null; Baileys 7's alt is the LID.
    assert "contextInfo" not in data and isinstance(data["messageTimestamp"], int)
    assert data["key"]["remoteJidAlt"].endswith("@lid") and data["key"]["addressingMode"] == "pn"
    assert data["source"] == "android" and data["instanceId"]


def test_inbound_from_a_lid_carries_the_phone_in_remote_jid_alt(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    sandbox.inbound("evolution", "wa1", **{"from": "5511777776666", "text": "Hi", "lid": True})
    key = receiver.wait_for_event("messages.upsert")[0].body["data"]["key"]
    assert (
        key["remoteJid"].endswith("@lid") and key["remoteJidAlt"] == "5511777776666@s.whatsapp.net"
    )


def test_inbound_image_carries_an_image_message(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    sandbox.inbound(
        "evolution",
        "wa1",
        **{"from": "5511777776666", "media": {"type": "image", "caption": "look"}},
    )
    data = receiver.wait_for_event("messages.upsert")[0].body["data"]
    assert data["messageType"] == "imageMessage"
    assert data["message"]["imageMessage"]["caption"] == "look"
    assert data["message"]["imageMessage"]["mimetype"] == "image/png"


def test_send_media_returns_a_media_message(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    body = {
        "number": "5511888888888",
        "mediatype": "document",
        "mimetype": "application/pdf",
        "caption": "invoice",
        "fileName": "invoice.pdf",
        "media": "https://example.com/invoice.pdf",
    }
    response = evo(sandbox, "POST", "/message/sendMedia/wa1", json=body)
    assert response.status_code == 201
    sent = response.json()
    assert sent["messageType"] == "documentMessage"
    assert sent["message"]["documentMessage"]["fileName"] == "invoice.pdf"


def test_send_media_rejects_media_that_is_neither_url_nor_base64(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    body = {"number": "5511888888888", "mediatype": "image", "media": "not media!"}
    response = evo(sandbox, "POST", "/message/sendMedia/wa1", json=body)
    assert response.status_code == 400
    assert response.json()["response"]["message"] == ["Owned media must be a url or base64"]


def test_send_to_a_number_not_on_whatsapp_is_400_exists_false(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    sandbox.control("POST", "/numbers", {"number": "5511000000000", "onWhatsApp": False})
    response = evo(
        sandbox, "POST", "/message/sendText/wa1", json={"number": "5511000000000", "text": "x"}
    )
    assert response.status_code == 400
    assert response.json()["response"]["message"] == [
        {"jid": "5511000000000@s.whatsapp.net", "exists": False, "number": "5511000000000"}
    ]


def test_send_text_requires_text(sandbox: SandboxServer, receiver: WebhookReceiver) -> None:
    open_evolution(sandbox, receiver)
    response = evo(sandbox, "POST", "/message/sendText/wa1", json={"number": "5511888888888"})
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "error": "Bad Request",
        "response": {"message": [['instance requires property "text"']]},
    }


def test_send_on_a_closed_instance_is_500_connection_closed(sandbox: SandboxServer) -> None:
    evo(
        sandbox,
        "POST",
        "/instance/create",
        json={"instanceName": "wa1", "integration": "WHATSAPP-BAILEYS"},
    )
    response = evo(
        sandbox, "POST", "/message/sendText/wa1", json={"number": "5511888888888", "text": "x"}
    )
    assert response.status_code == 500
    assert response.json()["response"]["message"] == ["Error: Connection Closed"]
