"""Every Evolution fixture normalizes as reference sections 1.5–1.9 say."""

from __future__ import annotations

from datetime import UTC, datetime

from providers.base import body_fingerprint
from providers.events import (
    CallReceived,
    ConnectionChanged,
    InstanceRemoved,
    InvalidEvent,
    MessageChanged,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    QrCode,
    QrUpdated,
    UnknownEvent,
)
from webhooks.normalizers import get_normalizer

from .cases import Expected, FixtureContract, fixture_bytes, load_fixture

P = "evolution"
CUSTOMER = "5511888888888@s.whatsapp.net"
LID = "123456789012345@lid"
GROUP = "120363025246125486@g.us"
OUR_MESSAGE = "3EB08EE80DB4E276AFE85B"
SENT_AT = datetime.fromtimestamp(1757464274, tz=UTC)
QR = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAC"
    "hwGA60e6kgAAAABJRU5ErkJggg=="
)


def inbound(message_id: str, kind: str, **fields: object) -> tuple[type, dict[str, object]]:
    """An expected inbound message from the customer, with defaults."""
    base = {
        "message_id": message_id,
        "chat_id": CUSTOMER,
        "sender": CUSTOMER,
        "from_me": False,
        "message_type": kind,
        "is_group": False,
        "occurred_at": SENT_AT,
        "instance": "acme-wa1",
    }
    return MessageReceived, {**base, **fields}


def change(
    kind: str, message_id: str = "3EB08EE80DB4E276AFE85B", **fields: object
) -> tuple[type, dict[str, object]]:
    """An expected change (edit, deletion, reaction) of an earlier message."""
    return MessageChanged, {"change": kind, "message_id": message_id, **fields}


def receipt(status: str, provider_status: str, reason: str = "") -> Expected:
    """An expected receipt for our message 3EB08EE8…."""
    return [
        (
            MessageStatusChanged,
            {
                "message_id": "3EB08EE80DB4E276AFE85B",
                "status": status,
                "provider_status": provider_status,
                "reason": reason,
                "chat_id": CUSTOMER,
            },
        )
    ]


EXPECTED: dict[str, Expected] = {
    "connection_update__connecting": [
        (
            ConnectionChanged,
            {"status": "connecting", "reason": "", "provider_state": "connecting", "phone": ""},
        )
    ],
    "connection_update__open": [
        (
            ConnectionChanged,
            {"status": "connected", "reason": "", "phone": "5511999999999", "profile_name": "Acme"},
        )
    ],
    # Not a recording: what an authenticated sender cannot have meant (issue 14).
    "connection_update__invalid_state_list": [
        (
            InvalidEvent,
            {
                "name": "connection.update",
                "reason": "data.state: expected text of at most 64 characters, got a list",
            },
        )
    ],
    "connection_update__close_logged_out": [
        (
            ConnectionChanged,
            {"status": "logged_out", "reason": "logged_out", "provider_state": "close"},
        )
    ],
    "connection_update__close_forbidden": [
        (ConnectionChanged, {"status": "banned", "reason": "forbidden"})
    ],
    "connection_update__refused": [
        (
            ConnectionChanged,
            {"status": "disconnected", "reason": "qr_expired", "provider_state": "refused"},
        )
    ],
    "qrcode_updated__qr": [
        (
            QrUpdated,
            {"pairing_code": "", "qr": QrCode(QR, "2@y8kPQ6Yc3vX1,Qm9aZ3Jh,5rT0uVw=,1700000000")},
        )
    ],
    "qrcode_updated__pairing_code": [
        (
            QrUpdated,
            {
                "pairing_code": "WZYEH1YY",
                "qr": QrCode(QR, "2@Ab3dEf6hIj9,LmN0pQ,rStUvW=,1700000045"),
            },
        )
    ],
    "qrcode_updated__limit_reached": [
        (
            ConnectionChanged,
            {"status": "disconnected", "reason": "qr_expired", "provider_state": "qr_limit"},
        )
    ],
    "status_instance__closed": [
        (
            ConnectionChanged,
            {"status": "logged_out", "reason": "logged_out", "provider_state": "closed"},
        )
    ],
    "logout_instance__null": [],
    "remove_instance__null": [(InstanceRemoved, {"instance": "acme-wa1"})],
    "messages_upsert__text": [
        inbound("3EB0C767D097B7C7C030", "text", text="Hi", push_name="Customer", chat_alt="")
    ],
    "messages_upsert__extended_text": [
        inbound("3EB0A1B2C3D4E5F60718", "text", text="See https://example.com")
    ],
    "messages_upsert__image": [
        inbound(
            "3EB0IMG0000000000001",
            "image",
            caption="Our invoice",
            mime_type="image/jpeg",
            media_url="https://s3.example.com/evolution/acme-wa1/3EB0IMG0000000000001.jpeg",
            reply_to="",
        )
    ],
    "messages_upsert__video": [
        inbound(
            "3EB0VID0000000000001", "video", caption="Unboxing", mime_type="video/mp4", media_url=""
        )
    ],
    "messages_upsert__audio": [
        inbound("3EB0AUD0000000000001", "audio", mime_type="audio/ogg; codecs=opus", text="")
    ],
    "messages_upsert__document": [
        inbound(
            "3EB0DOC0000000000001",
            "document",
            caption="March invoice",
            file_name="invoice.pdf",
            mime_type="application/pdf",
        )
    ],
    "messages_upsert__sticker": [
        inbound("3EB0STK0000000000001", "sticker", mime_type="image/webp")
    ],
    "messages_upsert__location": [
        inbound(
            "3EB0LOC0000000000001",
            "location",
            extra={
                "latitude": -23.5613,
                "longitude": -46.6565,
                "name": "Avenida Paulista",
                "address": "Av. Paulista, 1578 - Bela Vista, São Paulo",
            },
        )
    ],
    "messages_upsert__contact": [
        inbound(
            "3EB0CON0000000000001",
            "contact",
            extra={
                "name": "Maria Souza",
                "vcard": load_fixture(P, "messages_upsert__contact")["data"]["message"][
                    "contactMessage"
                ]["vcard"],
            },
        )
    ],
    # A reaction is a change of its target, never a message of its own.
    "messages_upsert__reaction": [
        change("reacted", sender=CUSTOMER, text="👍", occurred_at=SENT_AT)
    ],
    "messages_upsert__reaction_removed": [
        change("reacted", sender=CUSTOMER, text="", occurred_at=SENT_AT)
    ],
    "messages_edited__edit": [
        change(
            "edited",
            "3EB0C767D097B7C7C030",
            text="Hi, edited",
            occurred_at=datetime.fromtimestamp(1757464300, tz=UTC),
        )
    ],
    # A revoke ("delete for everyone") arrives as an edit of type REVOKE (Corrections).
    "messages_edited__revoke": [change("deleted", "3EB0C767D097B7C7C030", text="")],
    "messages_delete__key": [change("deleted", "3EB0C767D097B7C7C030")],
    "messages_upsert__reply": [
        inbound("3EB0RPL0000000000001", "text", text="Yes, that one", reply_to=OUR_MESSAGE)
    ],
    "messages_upsert__video_note": [
        inbound(
            "3EB0PTV0000000000001",
            "video_note",
            mime_type="video/mp4",
            media_source={
                "message": {
                    "key": load_fixture(P, "messages_upsert__video_note")["data"]["key"],
                    "message": load_fixture(P, "messages_upsert__video_note")["data"]["message"],
                },
                "size": 183920,
            },
        )
    ],
    "messages_upsert__voice_note": [
        inbound("3EB0PTT0000000000001", "audio", mime_type="audio/ogg; codecs=opus")
    ],
    # Baileys 7: a phone-addressed chat carries its LID in remoteJidAlt (reference 1.6).
    "messages_upsert__phone_addressed_with_lid": [
        inbound("3EB0PNL0000000000001", "text", chat_alt=LID, text="Hello, phone-addressed")
    ],
    # 2.3.1–2.3.2 put the phone in senderPn and the LID in previousRemoteJid.
    "messages_upsert__lid_sender_pn": [
        inbound("3EB0SPN0000000000001", "text", chat_alt=LID, text="Hello from 2.3.2")
    ],
    # Groups: the sender is the phone whichever field carries it.
    "messages_upsert__group_phone_addressed": [
        inbound(
            "3EB0GPN0000000000001",
            "text",
            chat_id=GROUP,
            sender="5511777777777@s.whatsapp.net",
            is_group=True,
        )
    ],
    "messages_upsert__group_lid_addressed": [
        inbound(
            "3EB0GLD0000000000001",
            "text",
            chat_id=GROUP,
            sender="5511777777777@s.whatsapp.net",
            is_group=True,
        )
    ],
    "call__offer": [
        (
            CallReceived,
            {
                "call_id": "A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6",
                "chat_id": CUSTOMER,
                "status": "offer",
                "is_video": False,
            },
        )
    ],
    "call__lid_timeout": [
        (
            CallReceived,
            {"chat_id": LID, "chat_alt": CUSTOMER, "status": "timeout", "is_video": True},
        )
    ],
    # Reference 1.6 / R15: the phone comes from remoteJidAlt when the chat is a LID.
    "messages_upsert__lid": [
        inbound(
            "3EB0LID0000000000001",
            "text",
            chat_id="123456789012345@lid",
            sender="123456789012345@lid",
            chat_alt=CUSTOMER,
            text="Hello from a LID chat",
        )
    ],
    "messages_upsert__lid_without_phone": [
        inbound(
            "3EB0LID0000000000002",
            "text",
            chat_id="123456789012345@lid",
            chat_alt="",
            sender="123456789012345@lid",
        )
    ],
    "messages_upsert__group": [
        inbound(
            "3EB0GRP0000000000001",
            "text",
            chat_id="120363025246125486@g.us",
            sender="5511777777777@s.whatsapp.net",
            is_group=True,
            push_name="Maria",
            text="Morning all",
        )
    ],
    "messages_upsert__from_me": [
        inbound(
            "3EB0ME00000000000001",
            "text",
            from_me=True,
            text="Typed on the phone",
            fingerprint=body_fingerprint("text", "Typed on the phone"),
        )
    ],
    "messages_upsert__status_broadcast": [],
    "send_message__text": [
        (
            MessageSent,
            {
                "message_id": "3EB08EE80DB4E276AFE85B",
                "chat_id": CUSTOMER,
                "status": "queued",
                "text": "Hello",
                "occurred_at": SENT_AT,
                "fingerprint": body_fingerprint("text", "Hello"),
            },
        )
    ],
    "send_message__image": [
        (
            MessageSent,
            {
                "message_id": "3EB0F00DBA5E1234ABCD",
                "text": "Your receipt",
                "status": "queued",
                "fingerprint": body_fingerprint("image", "Your receipt"),
            },
        )
    ],
    "send_message__document": [
        (
            MessageSent,
            {
                "message_id": "3EB0D0C0000000000000AA",
                "text": "March invoice",
                "fingerprint": body_fingerprint("document", "March invoice"),
            },
        )
    ],
    # Text with a link preview; the fingerprint ignores the space Baileys keeps at the end.
    "send_message__extended_text": [
        (
            MessageSent,
            {
                "message_id": "3EB0E0E0000000000000AB",
                "fingerprint": body_fingerprint("text", "See https://example.com"),
            },
        )
    ],
    "messages_update__server_ack": receipt("sent", "SERVER_ACK"),
    "messages_update__delivery_ack": receipt("delivered", "DELIVERY_ACK"),
    "messages_update__read": receipt("read", "READ"),
    "messages_update__played": receipt("played", "PLAYED"),
    "messages_update__error": receipt("failed", "ERROR", reason="error"),
    # DELETED is Evolution's fallback when Baileys gives no status, not a deletion (ref 1.6).
    "messages_update__deleted": receipt("unknown", "DELETED"),
    "messages_update__inbound_read": [],
    "presence_update__composing": [(UnknownEvent, {"name": "presence.update"})],
}


class TestEvolutionFixtures(FixtureContract):
    """The shared contract, over the Evolution fixtures."""

    provider = P
    expected = EXPECTED
    dedupe_keys = {
        "messages_upsert__text": "acme-wa1:message:3EB0C767D097B7C7C030:False",
        "messages_edited__edit": "acme-wa1:messages.edited:3EB0C767D097B7C7C030:1757464300000",
        "messages_delete__key": "acme-wa1:messages.delete:3EB0C767D097B7C7C030",
        "call__offer": "acme-wa1:call:A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6:offer",
        "send_message__text": "acme-wa1:message:3EB08EE80DB4E276AFE85B:True",
        "messages_update__read": "acme-wa1:messages.update:3EB08EE80DB4E276AFE85B:READ",
        "connection_update__open": "acme-wa1:connection.update:open:200:2025-10-21T11:40:39.123Z",
    }
    odd_payloads = [
        {},
        {"event": "messages.upsert", "data": None},
        {"event": "messages.update", "data": []},
        {"event": "connection.update", "data": {"state": 5}},
        {"event": "qrcode.updated", "data": {"qrcode": "x"}},
        {"event": "messages.edited", "data": {"key": [], "editedMessage": "x"}},
        {"event": "messages.delete", "data": None},
        {"event": "call", "data": [None]},
        {"event": "call", "data": []},
    ]


def test_events_without_an_r6_key_are_keyed_on_their_exact_body() -> None:
    normalizer, name = get_normalizer(P), "presence_update__composing"
    payload, body = load_fixture(P, name), fixture_bytes(P, name)
    key = normalizer.dedupe_key(payload, body)
    assert key.startswith("acme-wa1:body:") and key == normalizer.dedupe_key(payload, body)
    assert key != normalizer.dedupe_key(payload, body + b" ")


def test_a_message_upsert_and_its_send_echo_share_one_key() -> None:
    """Evolution may report an API send by either event (reference 1.6)."""
    normalizer = get_normalizer(P)
    echo = load_fixture(P, "send_message__text")
    upsert = {**echo, "event": "messages.upsert"}
    assert normalizer.dedupe_key(echo, b"") == normalizer.dedupe_key(upsert, b"")


def test_the_send_echo_and_the_send_answer_give_the_fingerprint_of_the_body_we_sent() -> None:
    """The lane matches an echo to its message by this value (DESIGN.md "Sending")."""
    from providers.evolution_messages import message_fingerprint

    echo = load_fixture(P, "send_message__text")
    [event] = get_normalizer(P).normalize(echo)
    assert isinstance(event, MessageSent)
    assert (
        event.fingerprint == message_fingerprint(echo["data"]) == body_fingerprint("text", "Hello")
    )
    assert event.fingerprint != body_fingerprint("image", "Hello")
