"""What the providers show as sent, over HTTP: findMessages, lastOutgoingMessages, send echoes."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests

from sandbox.testing import SandboxServer, WebhookReceiver
from sandbox.tests.helpers import create_evolution, evo, green, green_with_webhooks

CUSTOMER = "5511888888888"
CUSTOMER_JID = f"{CUSTOMER}@s.whatsapp.net"
RECORD_FIELDS = {
    "id",
    "key",
    "pushName",
    "messageType",
    "message",
    "messageTimestamp",
    "instanceId",
    "source",
    "contextInfo",
    "MessageUpdate",
}


def open_instance(
    sandbox: SandboxServer, receiver: WebhookReceiver | None, events: list[str] | None = None
) -> None:
    """Create Evolution instance wa1 (webhook subscribed to `events`, [] = all) and scan it."""
    create_evolution(sandbox, receiver)
    if receiver is not None and events is not None:
        hook = {"enabled": True, "url": receiver.url, "events": events}
        assert evo(sandbox, "POST", "/webhook/set/wa1", json={"webhook": hook}).status_code == 201
    sandbox.scan("evolution", "wa1", phone="5511999990000")


def send_text(sandbox: SandboxServer, text: str, number: str = CUSTOMER) -> dict[str, Any]:
    """POST /message/sendText and return the 201 body."""
    response = evo(sandbox, "POST", "/message/sendText/wa1", json={"number": number, "text": text})
    assert response.status_code == 201, response.text
    sent: dict[str, Any] = response.json()
    return sent


def find_messages(sandbox: SandboxServer, **query: Any) -> dict[str, Any]:
    """POST /chat/findMessages/wa1 and return `messages`."""
    response = evo(sandbox, "POST", "/chat/findMessages/wa1", json=query)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["messages"]
    return found


def ids(records: list[dict[str, Any]]) -> list[str]:
    """The key ids of findMessages records or journal items."""
    return [r["key"]["id"] if "key" in r else r["idMessage"] for r in records]


def mine(jid: str = CUSTOMER_JID) -> dict[str, Any]:
    """A findMessages `where` for our messages to one chat, as our gateway asks."""
    return {"key": {"remoteJid": jid, "remoteJidAlt": jid, "fromMe": True}}


# ---- Evolution: findMessages --------------------------------------------------------------------


def test_find_messages_lists_our_sends_to_a_chat_newest_first_in_2_3_shape(
    sandbox: SandboxServer,
) -> None:
    open_instance(sandbox, None)
    first = send_text(sandbox, "one")
    sandbox.advance(2)
    second = send_text(sandbox, "two")
    send_text(sandbox, "elsewhere", number="5511777777777")
    sandbox.inbound("evolution", "wa1", **{"from": CUSTOMER, "text": "a reply"})
    found = find_messages(sandbox, where=mine())
    assert (found["total"], found["pages"], found["currentPage"]) == (2, 1, 1)
    assert ids(found["records"]) == [second["key"]["id"], first["key"]["id"]]
    record = found["records"][1]
    assert set(record) == RECORD_FIELDS and record["id"].startswith("cm")
    assert {name: record[name] for name in ("key", "message", "messageType")} == {
        name: first[name] for name in ("key", "message", "messageType")
    }
    assert record["messageTimestamp"] == first["messageTimestamp"]
    everything = find_messages(sandbox, where={"key": {"remoteJid": CUSTOMER_JID}})
    assert everything["total"] == 3  # fromMe left out: the reply from the customer too


def test_find_messages_pages_with_offset_as_the_page_size(sandbox: SandboxServer) -> None:
    open_instance(sandbox, None)
    sent = []
    for index in range(5):
        sent.append(send_text(sandbox, f"m{index}")["key"]["id"])
        sandbox.advance(1)
    page = find_messages(sandbox, where=mine(), page=2, offset=2)
    assert (page["total"], page["pages"], page["currentPage"]) == (5, 3, 2)
    assert ids(page["records"]) == [sent[2], sent[1]]


def test_find_messages_window_needs_both_bounds(sandbox: SandboxServer) -> None:
    open_instance(sandbox, None)
    early = send_text(sandbox, "early")
    sandbox.advance(60)
    late = send_text(sandbox, "late")
    start = late["messageTimestamp"] - 10
    window = {"gte": start * 1000, "lte": "2100-01-01T00:00:00.000Z"}
    found = find_messages(sandbox, where={**mine(), "messageTimestamp": window})
    assert ids(found["records"]) == [late["key"]["id"]]
    only_gte = {"gte": start * 1000}
    unbounded = find_messages(sandbox, where={**mine(), "messageTimestamp": only_gte})
    assert ids(unbounded["records"]) == [late["key"]["id"], early["key"]["id"]]


def test_find_messages_finds_nothing_when_evolution_does_not_save_messages(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    """DATABASE_SAVE_DATA_NEW_MESSAGE=false: no history, but the echo still comes (reference)."""
    sandbox.settings(evolution_save_messages=False)
    open_instance(sandbox, receiver)
    sent = send_text(sandbox, "unsaved")
    assert find_messages(sandbox, where=mine())["records"] == []
    assert receiver.wait_for_event("send.message")[0].body["data"]["key"] == sent["key"]


def test_find_messages_keeps_the_evolution_guards(sandbox: SandboxServer) -> None:
    open_instance(sandbox, None)
    assert evo(sandbox, "POST", "/chat/findMessages/nope", json={}).status_code == 404
    assert evo(sandbox, "POST", "/chat/findMessages/wa1", key="wrong", json={}).status_code == 401
    bad = evo(sandbox, "POST", "/chat/findMessages/wa1", json={"where": {"key": {"fromMe": 1}}})
    assert bad.status_code == 400


def test_send_echo_comes_only_to_webhooks_subscribed_to_send_message(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_instance(sandbox, receiver, events=["CONNECTION_UPDATE", "MESSAGES_UPDATE"])
    send_text(sandbox, "quiet")
    sandbox.advance(5)
    receiver.wait_for_event("messages.update", 3)
    assert receiver.of("send.message") == []
    evo(
        sandbox,
        "POST",
        "/webhook/set/wa1",
        json={"webhook": {"enabled": True, "url": receiver.url, "events": ["SEND_MESSAGE"]}},
    )
    sent = send_text(sandbox, "echoed")
    assert receiver.wait_for_event("send.message")[0].body["data"] == sent


# ---- GreenAPI: lastOutgoingMessages ---------------------------------------------------------


def authorized_green(sandbox: SandboxServer, receiver: WebhookReceiver) -> dict[str, Any]:
    """A GreenAPI instance with every notification on, scanned."""
    inst = green_with_webhooks(sandbox, receiver)
    sandbox.scan("greenapi", inst["idInstance"], phone="79001234567")
    return inst


def green_send(sandbox: SandboxServer, inst: dict[str, Any], method: str, **body: Any) -> str:
    """sendMessage / sendFileByUrl and return idMessage."""
    response = green(sandbox, inst, method, "POST", json={"chatId": f"{CUSTOMER}@c.us", **body})
    assert response.status_code == 200, response.text
    return str(response.json()["idMessage"])


def journal(sandbox: SandboxServer, inst: dict[str, Any], minutes: int | None = None) -> Any:
    """GET lastOutgoingMessages[?minutes=]."""
    params = {"minutes": minutes} if minutes is not None else None
    response = green(sandbox, inst, "lastOutgoingMessages", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_last_outgoing_messages_lists_api_sends_newest_first(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = authorized_green(sandbox, receiver)
    text = green_send(sandbox, inst, "sendMessage", message="Hello")
    sandbox.advance(1)
    image = green_send(
        sandbox,
        inst,
        "sendFileByUrl",
        urlFile="https://cdn.test/a.jpg",
        fileName="a.jpg",
        caption="Look",
    )
    items = journal(sandbox, inst)
    assert ids(items) == [image, text]
    assert items[0]["typeMessage"] == "imageMessage" and items[0]["caption"] == "Look"
    assert items[1]["typeMessage"] == "extendedTextMessage"
    assert items[1]["textMessage"] == items[1]["extendedTextMessage"]["text"] == "Hello"
    assert items[1]["chatId"] == f"{CUSTOMER}@c.us" and items[1]["sendByApi"] is True
    assert items[1]["statusMessage"] == "sent"  # its first receipt came after 1 s


def test_last_outgoing_messages_keeps_to_its_minutes_and_its_lag(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = authorized_green(sandbox, receiver)
    old = green_send(sandbox, inst, "sendMessage", message="old")
    sandbox.advance(600)
    new = green_send(sandbox, inst, "sendMessage", message="new")
    assert ids(journal(sandbox, inst, minutes=5)) == [new]
    assert ids(journal(sandbox, inst)) == [new, old]
    sandbox.settings(greenapi_journal_delay=120)
    late = green_send(sandbox, inst, "sendMessage", message="late")
    assert late not in ids(journal(sandbox, inst))
    sandbox.advance(120)
    assert ids(journal(sandbox, inst))[0] == late
    bad = green(sandbox, inst, "lastOutgoingMessages", params={"minutes": "soon"})
    assert bad.status_code == 400


def test_sends_queued_while_not_authorized_show_once_they_leave(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = green_with_webhooks(sandbox, receiver)
    queued = green_send(sandbox, inst, "sendMessage", message="waiting")
    assert journal(sandbox, inst) == []
    sandbox.scan("greenapi", inst["idInstance"], phone="79001234567")
    assert ids(journal(sandbox, inst)) == [queued]


# ---- the crash window: the send is carried out, its answer lost ------------------------------


def test_dropped_answer_to_a_send_leaves_the_message_echoed_and_in_history(
    sandbox: SandboxServer, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    open_instance(sandbox, receiver)
    sandbox.faults(drop_response_rate=1, path_contains="/message/send", count=1)
    with pytest.raises(requests.ConnectionError):
        send_text(sandbox, "lost answer")
    [message] = sandbox.control("GET", "/messages?provider=evolution&direction=outbound")
    echo = receiver.wait_for_event("send.message")[0].body["data"]
    assert echo["key"]["id"] == message["id"] and echo["message"] == {"conversation": "lost answer"}
    assert ids(find_messages(sandbox, where=mine())["records"]) == [message["id"]]
    assert sandbox.control("GET", "/faults")["fired"]["drop_response"] == 1
    send_text(sandbox, "answered again")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_hung_answer_to_a_greenapi_send_leaves_the_message_echoed_and_in_history(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    inst = authorized_green(sandbox, receiver)
    sandbox.faults(hang_response_rate=1, hang_seconds=2, path_contains="sendMessage", count=1)
    url = (
        f"{sandbox.base_url}/waInstance{inst['idInstance']}/sendMessage/{inst['apiTokenInstance']}"
    )
    with pytest.raises(requests.Timeout):
        requests.post(url, json={"chatId": f"{CUSTOMER}@c.us", "message": "hung"}, timeout=0.5)
    echo = receiver.wait_for_event("outgoingAPIMessageReceived")[0].body
    assert echo["messageData"]["extendedTextMessageData"]["text"] == "hung"
    assert ids(journal(sandbox, inst)) == [echo["idMessage"]]


def test_a_send_dropped_before_it_is_carried_out_leaves_no_trace(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_instance(sandbox, receiver)
    sandbox.faults(drop_rate=1, path_contains="/message/send", count=1)
    with pytest.raises(requests.ConnectionError):
        send_text(sandbox, "never sent")
    assert sandbox.control("GET", "/messages?direction=outbound") == []
    assert find_messages(sandbox, where=mine())["records"] == []


def test_webhook_faults_can_be_kept_to_the_send_echo(
    sandbox: SandboxServer, receiver: WebhookReceiver
) -> None:
    open_instance(sandbox, receiver)
    sandbox.faults(webhook_drop_rate=1, webhook_events=["send.message"])
    sent = send_text(sandbox, "echo lost")
    sandbox.advance(5)
    receiver.wait_for_event("messages.update", 3)
    assert receiver.of("send.message") == []
    assert ids(find_messages(sandbox, where=mine())["records"]) == [sent["key"]["id"]]
