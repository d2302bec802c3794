"""Evolution API v2 webhooks → normalized events (reference sections 1.5–1.9)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from providers.base import jid_digits
from providers.events import (
    ConnectionChanged,
    ConnectionStatus,
    EventType,
    MessageKind,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    ProviderEvent,
    QrCode,
    QrUpdated,
    StateReason,
    evolution_connection_state,
    evolution_message_status,
)
from providers.evolution import WEBHOOK_SECRET_HEADER
from providers.evolution_messages import message_fingerprint

from .base import Payload, WebhookNormalizer, obj, text
from .fields import (
    MAX_FILE_NAME,
    MAX_ID,
    MAX_MIME,
    MAX_NAME,
    MAX_PAIRING_CODE,
    MAX_QR,
    MAX_TEXT,
    MAX_URL,
    MAX_WORD,
    Fields,
    child,
    code,
    details,
    flag,
    jid,
    stamp,
    string,
    word_or_code,
)

# Baileys message keys → our kind; Evolution already folds extendedTextMessage into
# `conversation` and documentWithCaptionMessage into documentMessage (reference 1.6).
CONTENT_KINDS: dict[str, MessageKind] = {
    "conversation": MessageKind.TEXT,
    "extendedTextMessage": MessageKind.TEXT,
    "imageMessage": MessageKind.IMAGE,
    "videoMessage": MessageKind.VIDEO,
    "audioMessage": MessageKind.AUDIO,
    "documentMessage": MessageKind.DOCUMENT,
    "documentWithCaptionMessage": MessageKind.DOCUMENT,
    "stickerMessage": MessageKind.STICKER,
    "locationMessage": MessageKind.LOCATION,
    "contactMessage": MessageKind.CONTACT,
    "reactionMessage": MessageKind.REACTION,
}
# Kind-specific details, read from the Baileys message object of that kind.
DETAILS: dict[MessageKind, dict[str, str]] = {
    MessageKind.LOCATION: {
        "latitude": "degreesLatitude",
        "longitude": "degreesLongitude",
        "name": "name",
        "address": "address",
    },
    MessageKind.CONTACT: {"name": "displayName", "vcard": "vcard"},
    MessageKind.REACTION: {"reacted_to": "key.id"},
}
# Not conversations: status stories and channels.
STATUS_BROADCAST = "status@broadcast"
NEWSLETTER_SUFFIX = "@newsletter"


class EvolutionNormalizer(WebhookNormalizer):
    """Reads the `{event, instance, data, …}` envelope of every Evolution webhook."""

    provider = "evolution"
    ALL_EVENT_TYPES: ClassVar[frozenset[EventType]] = frozenset(
        {
            EventType.CONNECTION_CHANGED,
            EventType.QR_UPDATED,
            EventType.MESSAGE_RECEIVED,
            EventType.MESSAGE_STATUS_CHANGED,
            EventType.MESSAGE_SENT,
            EventType.UNKNOWN,
            EventType.INVALID,
        }
    )

    def presented_secret(self, headers: Mapping[str, str]) -> str:
        """Our per-instance secret, sent verbatim in the header we configured (reference 1.8)."""
        return headers.get(WEBHOOK_SECRET_HEADER, "")

    def event_name(self, payload: Payload) -> str:
        """The dotted event name, e.g. `messages.upsert`."""
        return text(payload.get("event"))

    def instance_of(self, payload: Payload) -> str:
        """The instance *name* (reference 1.6)."""
        return text(payload.get("instance"))

    def key_parts(self, payload: Payload) -> tuple[Any, ...] | None:
        """Reference R6, with the connection key bound to the emission rather than a time window.

        R6 debounces `connection.update` over 10 s; that would drop the final `open` of
        open → connecting → open (Baileys' restart right after a scan). `date_time` is fixed per
        emission and repeated on retries, so retries still collapse and transitions do not.
        """
        name, instance, data = (
            self.event_name(payload),
            self.instance_of(payload),
            obj(payload.get("data")),
        )
        if name in ("messages.upsert", "send.message"):
            key = obj(data.get("key"))
            # Same key for both events: an API send may be reported by either (reference 1.6).
            return (instance, "message", text(key.get("id")), bool(key.get("fromMe")))
        if name == "messages.update":
            return (instance, name, text(data.get("keyId")), text(data.get("status")))
        if name == "connection.update":
            return (
                instance,
                name,
                text(data.get("state")),
                text(data.get("statusReason")),
                text(payload.get("date_time")),
            )
        if name == "qrcode.updated" and text(obj(data.get("qrcode")).get("code")):
            return (instance, name, text(obj(data.get("qrcode")).get("code")))
        return None

    def connection_update(self, payload: Payload) -> list[ProviderEvent]:
        """State with its Baileys close code; `open` carries the account's JID and name."""
        data = child(payload, "data")
        state = string(data, "state", MAX_WORD)
        mapping = evolution_connection_state(state, code(data, "statusReason"))
        return [
            ConnectionChanged(
                **self._common(payload),
                status=mapping.status,
                reason=mapping.reason,
                provider_state=state,
                phone=jid_digits(jid(data, "wuid")),
                profile_name=string(data, "profileName", MAX_NAME),
            )
        ]

    def status_instance(self, payload: Payload) -> list[ProviderEvent]:
        """Sent on an unrecoverable close with the close code (reference 1.6)."""
        data = child(payload, "data")
        mapping = evolution_connection_state("close", code(data, "disconnectionReasonCode"))
        return [
            ConnectionChanged(
                **self._common(payload),
                status=mapping.status,
                reason=mapping.reason,
                provider_state=string(data, "status", MAX_WORD),
            )
        ]

    def nothing(self, payload: Payload) -> list[ProviderEvent]:
        """Known events with nothing to do: `logout.instance` and `remove.instance` carry no data.

        The close that precedes a logout already carries its reason, and a removed instance is
        caught by the daily provider sync.
        """
        return []

    def qrcode_updated(self, payload: Payload) -> list[ProviderEvent]:
        """A new QR (and pairing code); past QRCODE_LIMIT, a limit message instead (ref 1.6)."""
        qrcode = child(child(payload, "data"), "qrcode")
        image = string(qrcode, "base64", MAX_QR)
        if not image:
            # The limit message; the `refused` connection.update that follows says the same.
            return [
                ConnectionChanged(
                    **self._common(payload),
                    status=ConnectionStatus.DISCONNECTED,
                    reason=StateReason.QR_EXPIRED,
                    provider_state="qr_limit",
                )
            ]
        return [
            QrUpdated(
                **self._common(payload),
                qr=QrCode.from_image(image, payload=string(qrcode, "code", MAX_QR)),
                pairing_code=string(qrcode, "pairingCode", MAX_PAIRING_CODE),
            )
        ]

    def messages_upsert(self, payload: Payload) -> list[ProviderEvent]:
        """An inbound message, or one typed on the business phone (`fromMe`)."""
        data = child(payload, "data")
        key = child(data, "key")
        chat = jid(key, "remoteJid")
        if not chat or chat == STATUS_BROADCAST or chat.endswith(NEWSLETTER_SUFFIX):
            return []
        is_group = chat.endswith("@g.us")
        sender = (jid(key, "participantAlt") or jid(key, "participant")) if is_group else chat
        return [
            MessageReceived(
                **self._common(payload, data),
                message_id=string(key, "id", MAX_ID),
                chat_id=chat,
                # `senderPn` is where builds before 2.3.6 put the phone (reference 1.6).
                chat_alt=jid(key, "remoteJidAlt") or jid(key, "senderPn"),
                sender=sender,
                from_me=flag(key, "fromMe"),
                push_name=string(data, "pushName", MAX_NAME),
                is_group=is_group,
                **content(child(data, "message"), string(data, "messageType", MAX_WORD)),
                fingerprint=message_fingerprint(data),
            )
        ]

    def send_message(self, payload: Payload) -> list[ProviderEvent]:
        """The echo of a send through the API: same object as the send answer (reference 1.7)."""
        data = child(payload, "data")
        key = child(data, "key")
        body = content(child(data, "message"), string(data, "messageType", MAX_WORD))
        return [
            MessageSent(
                **self._common(payload, data),
                message_id=string(key, "id", MAX_ID),
                chat_id=jid(key, "remoteJid"),
                status=evolution_message_status(word_or_code(data, "status")).status,
                text=body["text"] or body["caption"],
                fingerprint=message_fingerprint(data),
            )
        ]

    def messages_update(self, payload: Payload) -> list[ProviderEvent]:
        """A receipt; only our own messages' receipts matter (`fromMe`)."""
        data = child(payload, "data")
        if not flag(data, "fromMe"):
            return []
        provider_status = word_or_code(data, "status")
        mapping = evolution_message_status(provider_status)
        return [
            MessageStatusChanged(
                **self._common(payload),
                message_id=string(data, "keyId", MAX_ID),
                status=mapping.status,
                reason=mapping.reason,
                chat_id=jid(data, "remoteJid"),
                provider_status=provider_status,
            )
        ]

    def _common(self, payload: Payload, data: Payload | None = None) -> dict[str, Any]:
        """Fields every event has; times from `messageTimestamp`, never `date_time` (R15)."""
        return {
            "provider": self.provider,
            "instance": self.instance_of(payload),
            "raw": payload,
            "occurred_at": stamp(data, "messageTimestamp") if data is not None else None,
        }

    HANDLERS: ClassVar[Mapping[str, Any]] = {
        "connection.update": connection_update,
        "status.instance": status_instance,
        "logout.instance": nothing,
        "remove.instance": nothing,
        "qrcode.updated": qrcode_updated,
        "messages.upsert": messages_upsert,
        "send.message": send_message,
        "messages.update": messages_update,
    }


def content(message: Fields, message_type: str) -> dict[str, Any]:
    """Kind, text, media and details of a Baileys message object."""
    name = (
        message_type
        if message_type in message
        else next((k for k in CONTENT_KINDS if k in message), message_type)
    )
    # Every Baileys content is an object except `conversation`, which is the text itself.
    body = child(message, name) if name != "conversation" else Fields({})
    if name == "documentWithCaptionMessage":
        body = child(child(body, "message"), "documentMessage")
    kind = CONTENT_KINDS.get(name, MessageKind.UNSUPPORTED)
    return {
        "message_type": kind,
        "text": string(message, "conversation", MAX_TEXT) or string(body, "text", MAX_TEXT),
        # `mediaUrl` exists only with S3 storage; the WhatsApp `url` is encrypted (reference 1.6).
        "media_url": string(message, "mediaUrl", MAX_URL),
        "caption": string(body, "caption", MAX_TEXT),
        "file_name": string(body, "fileName", MAX_FILE_NAME),
        "mime_type": string(body, "mimetype", MAX_MIME),
        "extra": details(body, DETAILS.get(kind, {})),
    }
