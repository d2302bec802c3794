"""Edits, revokes, reactions, replies, groups, calls and media downloads, in provider shapes."""

from __future__ import annotations

import base64

from sandbox.testing import SandboxServer, WebhookReceiver
from sandbox.tests.helpers import evo, green, green_with_webhooks, open_evolution

CUSTOMER = "5511777776666"


def test_an_edit_and_a_revoke_come_as_messages_edited_and_a_deletion(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    sent = sandbox.inbound("evolution", "wa1", **{"from": CUSTOMER, "text": "Hi"})
    sandbox.edit(sent["id"], "Hi, edited")
    edit = receiver.wait_for_event("messages.edited")[0].body["data"]
    assert edit["key"]["id"] == sent["id"] and edit["type"] == "MESSAGE_EDIT"
    assert edit["editedMessage"] == {"conversation": "Hi, edited"} and edit["timestampMs"].isdigit()
    sandbox.revoke(sent["id"])
    revoke = receiver.wait_for_event("messages.edited", 2)[1].body["data"]
    assert revoke == {"key": edit["key"], "type": "REVOKE"}
    deletion = receiver.wait_for_event("messages.delete")[0].body["data"]
    assert deletion["id"] == sent["id"] and deletion["status"] == "DELETED"


def test_a_reaction_is_an_upsert_of_a_reaction_message(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    sent = sandbox.inbound("evolution", "wa1", **{"from": CUSTOMER, "text": "Hi"})
    sandbox.react(sent["id"], "🎉")
    upserts = receiver.wait_for_event("messages.upsert", 2)
    data = upserts[1].body["data"]
    assert data["messageType"] == "reactionMessage"
    assert data["message"]["reactionMessage"]["key"]["id"] == sent["id"]
    assert data["message"]["reactionMessage"]["text"] == "🎉"


def test_replies_and_group_members_in_both_addressing_modes(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_evolution(sandbox, receiver)
    first = sandbox.inbound("evolution", "wa1", **{"from": CUSTOMER, "text": "Hi"})
    group = "120363025246125486@g.us"
    sandbox.inbound(
        "evolution",
        "wa1",
        **{"from": CUSTOMER, "text": "Re", "replyTo": first["id"], "group": group},
    )
    sandbox.inbound(
        "evolution", "wa1", **{"from": CUSTOMER, "text": "Lid", "group": group, "addressing": "lid"}
    )
    upserts = [r.body["data"] for r in receiver.wait_for_event("messages.upsert", 3)]
    phone = f"{CUSTOMER}@s.whatsapp.net"
    assert upserts[0]["key"]["remoteJidAlt"].endswith("@lid")  # phone-addressed, Baileys 7
    assert upserts[1]["contextInfo"]["stanzaId"] == first["id"]
    assert upserts[1]["key"]["participant"] == phone
    assert upserts[1]["key"]["participantAlt"].endswith("@lid")
    assert upserts[2]["key"]["participant"].endswith("@lid")
    assert upserts[2]["key"]["participantAlt"] == phone


def test_a_call_in_both_providers(sandbox: SandboxServer, receiver: WebhookReceiver) -> None:
    open_evolution(sandbox, receiver)
    sandbox.incoming_call("evolution", "wa1", **{"from": CUSTOMER, "lid": True, "video": True})
    call = receiver.wait_for_event("call")[0].body["data"]
    assert call["chatId"].endswith("@lid") and call["callerPn"] == f"{CUSTOMER}@s.whatsapp.net"
    assert (call["status"], call["isVideo"]) == ("offer", True)
    inst = green_with_webhooks(sandbox, receiver)
    sandbox.scan("greenapi", inst["idInstance"], phone="79001234567")
    sandbox.incoming_call(
        "greenapi", inst["idInstance"], **{"from": CUSTOMER}
    )  # incomingCallWebhook off
    assert green(sandbox, inst, "setSettings", "POST", json={"incomingCallWebhook": "yes"}).ok
    sandbox.incoming_call("greenapi", inst["idInstance"], **{"from": CUSTOMER, "status": "missed"})
    [note] = receiver.wait_for_event("incomingCall")
    assert (note.body["from"], note.body["status"]) == (f"{CUSTOMER}@c.us", "missed")


def test_greenapi_edits_and_deletions_follow_their_switches(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    sandbox.scan("greenapi", inst["idInstance"], phone="79001234567")
    sent = sandbox.inbound("greenapi", inst["idInstance"], **{"from": CUSTOMER, "text": "Hi"})
    sandbox.edit(sent["id"], "Hi, edited")  # editedMessageWebhook is off: nothing is sent
    switches = {"editedMessageWebhook": "yes", "deletedMessageWebhook": "yes"}
    assert green(sandbox, inst, "setSettings", "POST", json=switches).status_code == 200
    sandbox.edit(sent["id"], "Hi, edited")
    sandbox.revoke(sent["id"])
    notes = receiver.wait_for_event("incomingMessageReceived", 3)
    edited, deleted = notes[1].body["messageData"], notes[2].body["messageData"]
    assert edited == {
        "typeMessage": "editedMessage",
        "editedMessageData": {"stanzaId": sent["id"], "textMessage": "Hi, edited"},
    }
    assert deleted == {
        "typeMessage": "deletedMessage",
        "deletedMessageData": {"stanzaId": sent["id"]},
    }


def test_get_base64_from_media_message_answers_the_file_or_not_found(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    created = open_evolution(sandbox, receiver)
    data = b"%PDF-1.4 sandbox"
    media = {"type": "document", "fileName": "a.pdf", "base64": base64.b64encode(data).decode()}
    sent = sandbox.inbound("evolution", "wa1", **{"from": CUSTOMER, "media": media})
    upsert = receiver.wait_for_event("messages.upsert")[0].body["data"]
    token = created["hash"]
    body = {"message": {"key": upsert["key"], "message": upsert["message"]}}
    found = evo(sandbox, "POST", "/chat/getBase64FromMediaMessage/wa1", key=token, json=body)
    assert found.status_code == 201
    answer = found.json()
    assert (answer["mediaType"], answer["mimetype"], answer["fileName"]) == (
        "document",
        "application/pdf",
        "a.pdf",
    )
    assert base64.b64decode(answer["base64"]) == data
    missing = {"message": {"key": {**upsert["key"], "id": "NOPE"}}}
    gone = evo(sandbox, "POST", "/chat/getBase64FromMediaMessage/wa1", key=token, json=missing)
    assert gone.status_code == 400 and gone.json()["response"]["message"] == ["Message not found"]
    assert sent["id"] == upsert["key"]["id"]
