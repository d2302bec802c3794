"""Evolution API v2 webhooks → normalized events (reference sections 1.5–1.9)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from providers.base import jid_digits
from providers.events import (
    MEDIA_KINDS,
    CallReceived,
    ChangeKind,
    ConnectionChanged,
    ConnectionStatus,
    EventType,
    InstanceRemoved,
    MessageChanged,
    MessageKind,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    ProviderEvent,
    QrCode,
    QrUpdated,
    StateReason,
)
from providers.evolution import WEBHOOK_SECRET_HEADER
from providers.evolution_messages import message_fingerprint
from providers.evolution_states import evolution_connection_state, evolution_message_status

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
    # Baileys' round video notes (Corrections and additions).
    "ptvMessage": MessageKind.VIDEO_NOTE,
}
# protocolMessage.type of a revoke ("delete for everyone"), as a name or the protobuf number;
# every other type that reaches messages.edited is an edit (MESSAGE_EDIT, 14).
REVOKE_TYPES = ("REVOKE", 0, "0")
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
            EventType.MESSAGE_CHANGED,
            EventType.CALL_RECEIVED,
            EventType.INSTANCE_REMOVED,
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
        if name == "messages.edited":
            key = obj(data.get("key"))
            return (instance, name, text(key.get("id")), text(data.get("timestampMs")))
        if name == "messages.delete":
            return (instance, name, text(obj(data.get("key") or data).get("id")))
        if name == "call":
            value = payload.get("data")
            call = obj(value[0] if isinstance(value, list) and value else value)
            return (instance, name, text(call.get("id")), text(call.get("status")))
        return None

    def connection_update(self, payload: Payload) -> list[ProviderEvent]:
        """State with its Baileys close code; `open` carries the account's JID and name."""
        data = child(payload, "data")
        state = string(data, "state", MAX_WORD)
        mapping = evolution_connection_state(state, code(data, "statusReason"))
        return [
            ConnectionChanged(
                **self._emitted(payload),
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
                **self._emitted(payload),
                status=mapping.status,
                reason=mapping.reason,
                provider_state=string(data, "status", MAX_WORD),
            )
        ]

    def nothing(self, payload: Payload) -> list[ProviderEvent]:
        """`logout.instance` carries no data; the close that precedes it carries the reason."""
        return []

    def remove_instance(self, payload: Payload) -> list[ProviderEvent]:
        """The instance is gone at the provider: applied at once, as the daily sync would."""
        return [InstanceRemoved(**self._common(payload))]

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
        """An inbound message, one typed on the business phone (`fromMe`), or a reaction."""
        data = child(payload, "data")
        key = child(data, "key")
        chat = jid(key, "remoteJid")
        if not chat or chat == STATUS_BROADCAST or chat.endswith(NEWSLETTER_SUFFIX):
            return []
        is_group = chat.endswith("@g.us")
        sender = group_sender(key) if is_group else chat
        message = child(data, "message")
        message_type = string(data, "messageType", MAX_WORD)
        body = content(message, message_type)
        if body["message_type"] is MessageKind.REACTION:
            return [self._reaction(payload, data, chat, sender, child(message, "reactionMessage"))]
        return [
            MessageReceived(
                **self._common(payload, data),
                message_id=string(key, "id", MAX_ID),
                chat_id=chat,
                chat_alt=chat_alt(key),
                sender=sender,
                from_me=flag(key, "fromMe"),
                push_name=string(data, "pushName", MAX_NAME),
                is_group=is_group,
                **body,
                fingerprint=message_fingerprint(data),
                reply_to=quoted_id(data, message, message_type),
                media_source=media_source(key, message, body),
            )
        ]

    def _reaction(
        self, payload: Payload, data: Fields, chat: str, sender: str, reaction: Fields
    ) -> MessageChanged:
        """A reaction changes its target's `reactions`; an empty text takes it back."""
        return MessageChanged(
            **self._common(payload, data),
            change=ChangeKind.REACTED,
            message_id=string(child(reaction, "key"), "id", MAX_ID),
            chat_id=chat,
            sender=sender,
            from_me=flag(child(data, "key"), "fromMe"),
            text=string(reaction, "text", MAX_WORD),
        )

    def messages_edited(self, payload: Payload) -> list[ProviderEvent]:
        """The protocolMessage of an edit, or of a revoke (type REVOKE), of an earlier message."""
        data = child(payload, "data")
        key = child(data, "key")
        revoked = word_or_code(data, "type") in REVOKE_TYPES
        edited = child(data, "editedMessage")
        new = content(edited, next(iter(edited), "")) if edited else {"text": "", "caption": ""}
        # The edit's own time orders edits that overtake each other (milliseconds, as text).
        millis = word_or_code(data, "timestampMs")
        timed = {"messageTimestamp": int(millis) // 1000} if millis.isdigit() else {}
        return [
            MessageChanged(
                **self._common(payload, timed),
                change=ChangeKind.DELETED if revoked else ChangeKind.EDITED,
                message_id=string(key, "id", MAX_ID),
                chat_id=jid(key, "remoteJid"),
                from_me=flag(key, "fromMe"),
                text="" if revoked else (new["text"] or new["caption"]),
            )
        ]

    def messages_delete(self, payload: Payload) -> list[ProviderEvent]:
        """A deletion; `data` is the message key (2.3.6 adds `status: DELETED`)."""
        data = child(payload, "data")
        key = child(data, "key") if "key" in data else data
        return [
            MessageChanged(
                **self._common(payload),
                change=ChangeKind.DELETED,
                message_id=string(key, "id", MAX_ID),
                chat_id=jid(key, "remoteJid"),
                from_me=flag(key, "fromMe"),
            )
        ]

    def call(self, payload: Payload) -> list[ProviderEvent]:
        """A Baileys call event (offer, ringing, timeout, reject, accept, terminate)."""
        call = call_of(payload)
        chat = jid(call, "chatId") or jid(call, "from")
        if not chat or flag(call, "isGroup"):
            return []
        return [
            CallReceived(
                **{
                    **self._common(payload),
                    "occurred_at": iso_time(string(call, "date", MAX_WORD)),
                },
                call_id=string(call, "id", MAX_ID),
                chat_id=chat,
                chat_alt=jid(call, "callerPn"),
                status=string(call, "status", MAX_WORD),
                is_video=flag(call, "isVideo"),
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

    def _emitted(self, payload: Payload) -> dict[str, Any]:
        """Fields of a connection event, timed by the envelope's `date_time`.

        Deliveries overtake each other (reference 1.9), so a late `connecting` must not undo an
        `open`. `date_time` is the server's local clock written with a `Z` (R15): never a true
        time, but one clock for all of one server's events, which is all ordering needs.
        """
        return {**self._common(payload), "occurred_at": iso_time(text(payload.get("date_time")))}

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
        "remove.instance": remove_instance,
        "qrcode.updated": qrcode_updated,
        "messages.upsert": messages_upsert,
        "send.message": send_message,
        "messages.update": messages_update,
        "messages.edited": messages_edited,
        "messages.delete": messages_delete,
        "call": call,
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


PHONE_SUFFIXES = ("@s.whatsapp.net", "@c.us")


def chat_alt(key: Fields) -> str:
    """The chat's other identity: `remoteJidAlt` (2.3.3+: the phone of a lid-addressed chat, the
    LID of a phone-addressed one), or `senderPn` / `previousRemoteJid` of 2.3.1–2.3.2."""
    for name in ("remoteJidAlt", "senderPn", "previousRemoteJid"):
        value = jid(key, name)
        if value and value != jid(key, "remoteJid"):
            return value
    return ""


def group_sender(key: Fields) -> str:
    """A group member: the phone JID whenever any field carries it, else the LID.

    Baileys 7 puts the *other* identity in `participantAlt`: the LID when the group is
    phone-addressed, the phone when it is lid-addressed (reference 1.6); 2.3.1–2.3.2 used
    `participantPn`.
    """
    jids = [jid(key, name) for name in ("participant", "participantAlt", "participantPn")]
    return next((j for j in jids if j.endswith(PHONE_SUFFIXES)), next((j for j in jids if j), ""))


def quoted_id(data: Fields, message: Fields, message_type: str) -> str:
    """The id of the message a reply quotes: 2.3.6 lifts `contextInfo` beside `message`."""
    context = child(data, "contextInfo")
    if not context and isinstance(message.get(message_type), Mapping):
        context = child(child(message, message_type), "contextInfo")
    return string(context, "stanzaId", MAX_ID)


def media_source(key: Fields, message: Fields, body: Mapping[str, Any]) -> dict[str, Any]:
    """What getBase64FromMediaMessage needs: the message as received (key + message)."""
    if body["message_type"] not in MEDIA_KINDS:
        return {}
    name = next((k for k in message if k in CONTENT_KINDS), "")
    size = word_or_code(child(message, name), "fileLength") if name else ""
    source: dict[str, Any] = {"message": {"key": dict(key), "message": dict(message)}}
    return source | ({"size": int(size)} if size.isdigit() else {})


def iso_time(value: str) -> datetime | None:
    """An ISO 8601 time with a trailing `Z`, or None."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def call_of(payload: Payload) -> Fields:
    """The call object: Evolution sends Baileys' call event (sometimes a one-element list)."""
    value = payload.get("data")
    if isinstance(value, list):
        return child({"data": value[0] if value else None}, "data")
    return child(payload, "data")
