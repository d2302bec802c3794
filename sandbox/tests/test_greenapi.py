"""GreenAPI over HTTP: token in the path, states, QR, pairing code, sends, receipts, events."""

from __future__ import annotations

import base64
import re
from typing import Any

from sandbox.testing import SandboxServer, WebhookReceiver
from sandbox.tests.helpers import green, green_with_webhooks


def authorize(sandbox: SandboxServer, receiver: WebhookReceiver, inst: dict[str, Any]) -> None:
    """Scan the instance and wait for the authorized notification."""
    sandbox.scan("greenapi", inst["idInstance"], phone="79001234567", profileName="Shop")
    receiver.wait_for(lambda got: any(r.body.get("stateInstance") == "authorized" for r in got))


def test_control_api_creates_instances_with_id_and_token(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    assert inst["idInstance"] == 1101000001 and len(inst["apiTokenInstance"]) == 50
    assert inst["apiUrl"] == sandbox.base_url
    assert green(sandbox, inst, "getStateInstance").json() == {"stateInstance": "notAuthorized"}


def test_wrong_token_or_unknown_instance_is_401(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    assert (
        green(sandbox, {**inst, "apiTokenInstance": "nope"}, "getStateInstance").status_code == 401
    )
    assert green(sandbox, {**inst, "idInstance": 42}, "getStateInstance").status_code == 401


def test_unknown_method_is_404_and_wrong_verb_is_405(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    assert green(sandbox, inst, "noSuchMethod").status_code == 404
    assert green(sandbox, inst, "sendMessage", http="GET").status_code == 405


def test_qr_is_bare_base64_and_changes_every_20_seconds(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    first = green(sandbox, inst, "qr").json()
    assert first["type"] == "qrCode" and not first["message"].startswith("data:")
    assert base64.b64decode(first["message"])[:4] == b"\x89PNG"
    assert green(sandbox, inst, "qr").json() == first
    sandbox.advance(20)
    assert green(sandbox, inst, "qr").json()["message"] != first["message"]


def test_scan_authorizes_and_notifies_with_bearer_token(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    authorize(sandbox, receiver, inst)
    hook = receiver.of("stateInstanceChanged")[0]
    assert hook.headers["Authorization"] == "Bearer hook-token"
    assert hook.body["instanceData"] == {
        "idInstance": inst["idInstance"],
        "wid": "79001234567@c.us",
        "typeInstance": "whatsapp",
    }
    assert isinstance(hook.body["timestamp"], int)
    assert green(sandbox, inst, "getStateInstance").json() == {"stateInstance": "authorized"}
    assert green(sandbox, inst, "qr").json()["type"] == "alreadyLogged"
    assert green(sandbox, inst, "getSettings").json()["wid"] == "79001234567@c.us"


def test_pairing_code_has_8_characters_and_can_be_entered(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    bad = green(
        sandbox, inst, "getAuthorizationCode", http="POST", json={"phoneNumber": "+79001234567"}
    )
    assert bad.status_code == 400 and bad.text.startswith("Validation failed. Details:")
    answer = green(
        sandbox, inst, "getAuthorizationCode", http="POST", json={"phoneNumber": 79001234567}
    ).json()
    assert answer["status"] is True and len(answer["code"]) == 8
    sandbox.scan("greenapi", inst["idInstance"], code=answer["code"])
    assert green(sandbox, inst, "getStateInstance").json() == {"stateInstance": "authorized"}


def test_notifications_are_off_until_set_settings(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = sandbox.create_greenapi_instance()
    settings = {"webhookUrl": receiver.url, "webhookUrlToken": "t", "stateWebhook": "yes"}
    sandbox.scan("greenapi", inst["idInstance"])
    assert green(sandbox, inst, "setSettings", http="POST", json=settings).json() == {
        "saveSettings": True
    }
    assert green(sandbox, inst, "logout").json() == {"isLogout": True}
    hook = receiver.wait_for_event("stateInstanceChanged")[0]
    assert hook.body["stateInstance"] == "notAuthorized" and len(receiver.received) == 1


def test_set_settings_validates_fields(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    response = green(sandbox, inst, "setSettings", http="POST", json={"incomingWebhook": "maybe"})
    assert response.status_code == 400 and "incomingWebhook" in response.text


def test_send_message_returns_id_and_statuses_follow_in_order(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    authorize(sandbox, receiver, inst)
    body = {"chatId": "79009998877@c.us", "message": "Hello"}
    id_message = green(sandbox, inst, "sendMessage", http="POST", json=body).json()["idMessage"]
    assert re.fullmatch(r"3EB0[0-9A-F]{16}", id_message)
    echo = receiver.wait_for_event("outgoingAPIMessageReceived")[0].body
    assert echo["idMessage"] == id_message and echo["senderData"]["chatId"] == "79009998877@c.us"
    assert echo["messageData"]["extendedTextMessageData"]["text"] == "Hello"
    sandbox.advance(10)
    statuses = receiver.wait_for_event("outgoingMessageStatus", 3)
    assert [s.body["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert statuses[0].body["idMessage"] == id_message and statuses[0].body["sendByApi"] is True


def test_statuses_can_come_out_of_order_and_twice(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    authorize(sandbox, receiver, inst)
    sandbox.settings(auto_receipts=False)
    body = {"chatId": "79009998877@c.us", "message": "Hello"}
    id_message = green(sandbox, inst, "sendMessage", http="POST", json=body).json()["idMessage"]
    sandbox.receipts(id_message, ["read", "delivered", "delivered"])
    statuses = receiver.wait_for_event("outgoingMessageStatus", 3)
    assert [s.body["status"] for s in statuses] == ["read", "delivered", "delivered"]


def test_sends_while_not_authorized_are_queued_until_authorized(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    body = {"chatId": "79009998877@c.us", "message": "early"}
    id_message = green(sandbox, inst, "sendMessage", http="POST", json=body).json()["idMessage"]
    assert sandbox.control("GET", f"/greenapi/instances/{inst['idInstance']}")["queued"] == 1
    authorize(sandbox, receiver, inst)
    echo = receiver.wait_for_event("outgoingAPIMessageReceived")[0]
    assert echo.body["idMessage"] == id_message


def test_send_to_a_number_without_whatsapp_reports_no_account(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    authorize(sandbox, receiver, inst)
    sandbox.control("POST", "/numbers", {"number": "79000000000", "onWhatsApp": False})
    body = {"chatId": "79000000000@c.us", "message": "x"}
    green(sandbox, inst, "sendMessage", http="POST", json=body)
    sandbox.advance(10)
    status = receiver.wait_for_event("outgoingMessageStatus")[0].body
    assert status["status"] == "noAccount" and status["description"]


def test_send_message_validates_chat_id(sandbox: SandboxServer) -> None:
    inst = sandbox.create_greenapi_instance()
    response = green(sandbox, inst, "sendMessage", http="POST", json={"message": "x"})
    assert (
        response.status_code == 400
        and response.text == 'Validation failed. Details: "chatId" is required'
    )


def test_send_file_by_url_infers_the_type_from_the_extension(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    authorize(sandbox, receiver, inst)
    body = {
        "chatId": "79009998877@c.us",
        "urlFile": "https://example.com/horse.png",
        "fileName": "horse.png",
        "caption": "a horse",
    }
    assert "idMessage" in green(sandbox, inst, "sendFileByUrl", http="POST", json=body).json()
    echo = receiver.wait_for_event("outgoingAPIMessageReceived")[0].body
    assert echo["messageData"]["typeMessage"] == "imageMessage"
    assert echo["messageData"]["fileMessageData"]["caption"] == "a horse"


def test_inbound_message_emits_incoming_message_received(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    authorize(sandbox, receiver, inst)
    sandbox.inbound(
        "greenapi", inst["idInstance"], **{"from": "79001234568", "text": "Hi", "pushName": "Ann"}
    )
    hook = receiver.wait_for_event("incomingMessageReceived")[0].body
    assert (
        hook["senderData"]["chatId"] == "79001234568@c.us"
        and hook["senderData"]["senderName"] == "Ann"
    )
    assert hook["messageData"] == {
        "typeMessage": "textMessage",
        "textMessageData": {"textMessage": "Hi"},
    }
    assert re.fullmatch(r"[0-9A-F]{32}", hook["idMessage"])


def test_inbound_image_has_a_download_url_served_by_the_sandbox(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    import requests

    inst = green_with_webhooks(sandbox, receiver)
    authorize(sandbox, receiver, inst)
    sandbox.inbound(
        "greenapi", inst["idInstance"], **{"from": "79001234568", "media": {"type": "image"}}
    )
    data = receiver.wait_for_event("incomingMessageReceived")[0].body["messageData"]
    assert data["typeMessage"] == "imageMessage"
    image = requests.get(data["fileMessageData"]["downloadUrl"], timeout=5)
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"


def test_ban_blocks_and_reboot_goes_through_starting(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    authorize(sandbox, receiver, inst)
    assert green(sandbox, inst, "reboot").json() == {"isReboot": True}
    assert green(sandbox, inst, "getStateInstance").json() == {"stateInstance": "starting"}
    sandbox.advance(5)
    assert green(sandbox, inst, "getStateInstance").json() == {"stateInstance": "authorized"}
    sandbox.control("POST", f"/greenapi/instances/{inst['idInstance']}/ban")
    assert green(sandbox, inst, "getStateInstance").json() == {"stateInstance": "blocked"}
    states = [r.body["stateInstance"] for r in receiver.wait_for_event("stateInstanceChanged", 4)]
    assert states == ["authorized", "starting", "authorized", "blocked"]


def test_connection_lost_sleeps_then_recovers(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    authorize(sandbox, receiver, inst)
    sandbox.control(
        "POST",
        f"/greenapi/instances/{inst['idInstance']}/disconnect",
        {"reason": "connection_lost"},
    )
    assert green(sandbox, inst, "getStateInstance").json() == {"stateInstance": "sleepMode"}
    sandbox.advance(2)
    assert green(sandbox, inst, "getStateInstance").json() == {"stateInstance": "authorized"}
