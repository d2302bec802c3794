"""Every GreenAPI fixture normalizes as reference sections 2.4–2.6 say."""

from __future__ import annotations

from datetime import UTC, datetime

from providers.base import body_fingerprint
from providers.events import (
    CallReceived,
    ConnectionChanged,
    InvalidEvent,
    MessageChanged,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    QuotaExceeded,
    UnknownEvent,
)
from webhooks.normalizers import get_normalizer

from .cases import Expected, FixtureContract, load_fixture

P = "greenapi"
CUSTOMER = "5511888888888@c.us"
AT = datetime.fromtimestamp(1588091580, tz=UTC)
MEDIA = "https://sw-media-out.storage.greenapi.net/1101000001/"


def change(kind: str, message_id: str, **fields: object) -> Expected:
    """An expected change (edit, deletion, reaction) of an earlier message."""
    return [(MessageChanged, {"change": kind, "message_id": message_id, **fields})]


def inbound(name: str, kind: str, **fields: object) -> Expected:
    """An expected inbound message from the customer; its id is read from the fixture."""
    base = {
        "message_id": load_fixture(P, name)["idMessage"],
        "chat_id": CUSTOMER,
        "sender": CUSTOMER,
        "from_me": False,
        "message_type": kind,
        "is_group": False,
        "occurred_at": AT,
        "instance": "1101000001",
        "push_name": "Customer",
    }
    return [(MessageReceived, {**base, **fields})]


def file(name: str, kind: str, file_name: str, mime: str, caption: str = "") -> Expected:
    """An expected inbound file message."""
    return inbound(
        name,
        kind,
        media_url=MEDIA + file_name,
        file_name=file_name,
        mime_type=mime,
        caption=caption,
    )


def receipt(status: str, provider_status: str, reason: str = "") -> Expected:
    """An expected outgoingMessageStatus for our message BAE5F488…."""
    return [
        (
            MessageStatusChanged,
            {
                "message_id": "BAE5F4886E5E7D3B",
                "status": status,
                "reason": reason,
                "provider_status": provider_status,
                "chat_id": CUSTOMER,
                "occurred_at": AT,
            },
        )
    ]


def state(status: str, reason: str, provider_state: str, phone: str = "") -> Expected:
    """An expected stateInstanceChanged."""
    return [
        (
            ConnectionChanged,
            {"status": status, "reason": reason, "provider_state": provider_state, "phone": phone},
        )
    ]


N = "incomingMessageReceived__"
EXPECTED: dict[str, Expected] = {
    N + "text": inbound(N + "text", "text", text="Hi"),
    N + "extended_text": inbound(N + "extended_text", "text", text="See https://example.com"),
    N + "quoted": inbound(
        N + "quoted", "text", text="Yes, that one", reply_to="3EB08EE80DB4E276AFE85B"
    ),
    N + "image": file(N + "image", "image", "photo.jpg", "image/jpeg", "Our invoice"),
    N + "video": file(N + "video", "video", "clip.mp4", "video/mp4", "Unboxing"),
    N + "audio": file(N + "audio", "audio", "voice.oga", "audio/ogg"),
    N + "document": file(
        N + "document", "document", "invoice.pdf", "application/pdf", "March invoice"
    ),
    N + "sticker": file(N + "sticker", "sticker", "sticker.webp", "image/webp"),
    N + "location": inbound(
        N + "location",
        "location",
        extra={
            "latitude": 40.748817,
            "longitude": -73.985428,
            "name": "Empire State Building",
            "address": "20 W 34th St., New York, NY 10001, USA",
        },
    ),
    N + "contact": inbound(
        N + "contact",
        "contact",
        extra={
            "name": "Maria Souza",
            "vcard": load_fixture(P, N + "contact")["messageData"]["contactMessageData"]["vcard"],
        },
    ),
    # Reactions, edits and deletions change the message they name (stanzaId), never a new one.
    N + "reaction": change("reacted", "3EB08EE80DB4E276AFE85B", text="👍"),
    N + "reaction_removed": change("reacted", "3EB08EE80DB4E276AFE85B", text=""),
    N + "edited": change("edited", "F7AEC1B7086ECDC7E6E45923F5EDB825", text="Hi, edited"),
    N + "deleted": change("deleted", "F7AEC1B7086ECDC7E6E45923F5EDB825", text=""),
    "outgoingMessageReceived__deleted": change("deleted", "3EB08EE80DB4E276AFE85B", from_me=True),
    "incomingCall__offer": [
        (
            CallReceived,
            {"call_id": "DE7A2E66E7E7F3FB1A5D8A0E06F5DA71", "chat_id": CUSTOMER, "status": "offer"},
        )
    ],
    "incomingCall__missed": [
        (CallReceived, {"call_id": "DE7A2E66E7E7F3FB1A5D8A0E06F5DA71", "status": "missed"})
    ],
    N + "group": inbound(
        N + "group",
        "text",
        chat_id="120363025246125486@g.us",
        sender="5511777777777@c.us",
        is_group=True,
        text="Morning all",
        push_name="Acme customers",
    ),
    "outgoingMessageReceived__text": inbound(
        "outgoingMessageReceived__text",
        "text",
        from_me=True,
        push_name="Acme",
        text="Typed on the phone",
        fingerprint=body_fingerprint("text", "Typed on the phone"),
    ),
    "outgoingAPIMessageReceived__text": [
        (
            MessageSent,
            {
                "message_id": "BAE5F4886E5E7D3B",
                "chat_id": CUSTOMER,
                "text": "Hello",
                "status": "queued",
                "occurred_at": AT,
                "fingerprint": body_fingerprint("text", "Hello"),
            },
        )
    ],
    "outgoingAPIMessageReceived__image": [
        (
            MessageSent,
            {
                "message_id": "BAE5F4886E5E7D3D",
                "chat_id": CUSTOMER,
                "text": "Invoice",
                "fingerprint": body_fingerprint("image", "Invoice"),
            },
        )
    ],
    "outgoingMessageStatus__sent": receipt("sent", "sent"),
    "outgoingMessageStatus__delivered": receipt("delivered", "delivered"),
    "outgoingMessageStatus__read": receipt("read", "read"),
    "outgoingMessageStatus__failed": receipt("failed", "failed", "error"),
    "outgoingMessageStatus__no_account": receipt("failed", "noAccount", "not_on_whatsapp"),
    "outgoingMessageStatus__not_in_group": receipt("failed", "notInGroup", "not_in_group"),
    # yellowCard holds the message in GreenAPI's queue (reference 2.2): still queued.
    "outgoingMessageStatus__yellow_card": receipt("queued", "yellowCard", "spam_suspected"),
    "stateInstanceChanged__authorized": state("connected", "", "authorized", "5511999999999"),
    "stateInstanceChanged__not_authorized": state("disconnected", "waiting_scan", "notAuthorized"),
    "stateInstanceChanged__blocked": state("banned", "blocked", "blocked"),
    "stateInstanceChanged__sleep_mode": state("paused", "phone_offline", "sleepMode"),
    "stateInstanceChanged__starting": state("connecting", "starting", "starting"),
    "stateInstanceChanged__yellow_card": state("paused", "spam_suspected", "yellowCard"),
    "quotaExceeded__correspondents": [(QuotaExceeded, {"quota": "correspondents"})],
    "deviceInfo__android": [(UnknownEvent, {"name": "deviceInfo"})],
    # Not a recording: what an authenticated sender cannot have meant (issue 14).
    "stateInstanceChanged__invalid_state_object": [
        (
            InvalidEvent,
            {
                "name": "stateInstanceChanged",
                "reason": "stateInstance: expected text of at most 64 characters, got an object",
            },
        )
    ],
}


class TestGreenApiFixtures(FixtureContract):
    """The shared contract, over the GreenAPI fixtures."""

    provider = P
    expected = EXPECTED
    dedupe_keys = {
        N + "text": "1101000001:message:F7AEC1B7086ECDC7E6E45923F5EDB825",
        "outgoingAPIMessageReceived__text": "1101000001:message:BAE5F4886E5E7D3B",
        "outgoingMessageStatus__read": "1101000001:status:BAE5F4886E5E7D3B:read",
        "stateInstanceChanged__authorized": "1101000001:stateInstanceChanged:authorized:1588091580",
    }
    odd_payloads = [
        {},
        {"typeWebhook": N[:-2], "senderData": None, "messageData": 3},
        {"typeWebhook": "outgoingMessageStatus", "instanceData": []},
        {"typeWebhook": "stateInstanceChanged", "stateInstance": None},
    ]


def test_the_webhook_url_token_is_read_as_bearer_or_bare() -> None:
    """The header format is undocumented beyond "Authorization" (Corrections): accept both."""
    normalizer = get_normalizer(P)
    assert normalizer.presented_secret({"Authorization": "Bearer s3cret"}) == "s3cret"
    assert normalizer.presented_secret({"Authorization": "bearer s3cret"}) == "s3cret"
    assert normalizer.presented_secret({"Authorization": "s3cret"}) == "s3cret"
    assert normalizer.presented_secret({"Authorization": "Basic a b"}) == ""
    assert normalizer.presented_secret({"Authorization": "Token s3cret"}) == ""
    assert normalizer.presented_secret({}) == ""


def test_the_api_echo_and_the_history_entry_of_one_send_give_one_fingerprint() -> None:
    """The lane finds a send by echo or, the echo lost, by lastOutgoingMessages (DESIGN.md)."""
    from providers.greenapi_messages import history_record

    [event] = get_normalizer(P).normalize(load_fixture(P, "outgoingAPIMessageReceived__image"))
    entry = {
        "type": "outgoing",
        "idMessage": "BAE5F4886E5E7D3D",
        "timestamp": 1588091590,
        "typeMessage": "imageMessage",
        "chatId": "5511888888888@c.us",
        "caption": "Invoice",
        "sendByApi": True,
    }
    record = history_record(entry)
    assert isinstance(event, MessageSent) and record is not None
    assert event.fingerprint == record.fingerprint == body_fingerprint("image", "Invoice")
