"""GreenAPI notifications → normalized events (reference sections 2.4–2.6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from providers.base import jid_digits
from providers.events import (
    MEDIA_KINDS,
    CallReceived,
    ChangeKind,
    ConnectionChanged,
    ConnectionStatus,
    EventType,
    MessageChanged,
    MessageKind,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    ProviderEvent,
    QuotaExceeded,
)
from providers.greenapi_messages import notification_fingerprint
from providers.greenapi_states import (
    greenapi_connection_state,
    greenapi_message_status,
)

from .base import Payload, WebhookNormalizer, obj, text
from .fields import (
    MAX_DETAIL,
    MAX_FILE_NAME,
    MAX_ID,
    MAX_MIME,
    MAX_NAME,
    MAX_TEXT,
    MAX_URL,
    MAX_WORD,
    child,
    details,
    jid,
    stamp,
    string,
)

# typeMessage → our kind (GreenAPI docs, notifications-format/incoming-message).
KINDS: dict[str, MessageKind] = {
    "textMessage": MessageKind.TEXT,
    "extendedTextMessage": MessageKind.TEXT,
    "quotedMessage": MessageKind.TEXT,
    "imageMessage": MessageKind.IMAGE,
    "videoMessage": MessageKind.VIDEO,
    "audioMessage": MessageKind.AUDIO,
    "documentMessage": MessageKind.DOCUMENT,
    "stickerMessage": MessageKind.STICKER,
    "locationMessage": MessageKind.LOCATION,
    "contactMessage": MessageKind.CONTACT,
    "reactionMessage": MessageKind.REACTION,
}
# Kind-specific details, read from `messageData`.
DETAILS: dict[MessageKind, dict[str, str]] = {
    MessageKind.LOCATION: {
        "latitude": "locationMessageData.latitude",
        "longitude": "locationMessageData.longitude",
        "name": "locationMessageData.nameLocation",
        "address": "locationMessageData.address",
    },
    MessageKind.CONTACT: {
        "name": "contactMessageData.displayName",
        "vcard": "contactMessageData.vcard",
    },
    MessageKind.REACTION: {"reacted_to": "quotedMessage.stanzaId"},
}
# typeMessage of a change → (what it does, the object holding `stanzaId`, where its text is).
CHANGES: dict[str, tuple[ChangeKind, str, tuple[str, str] | None]] = {
    "editedMessage": (ChangeKind.EDITED, "editedMessageData", ("editedMessageData", "textMessage")),
    "deletedMessage": (ChangeKind.DELETED, "deletedMessageData", None),
    "reactionMessage": (ChangeKind.REACTED, "quotedMessage", ("extendedTextMessageData", "text")),
}
MESSAGE_NOTIFICATIONS = (
    "incomingMessageReceived",
    "outgoingMessageReceived",
    "outgoingAPIMessageReceived",
)


class GreenApiNormalizer(WebhookNormalizer):
    """Reads `{typeWebhook, instanceData, timestamp, …}` notifications."""

    provider = "greenapi"
    # GreenAPI sends no QR notification: the QR is polled (reference 2.2).
    ALL_EVENT_TYPES: ClassVar[frozenset[EventType]] = frozenset(
        {
            EventType.CONNECTION_CHANGED,
            EventType.MESSAGE_RECEIVED,
            EventType.MESSAGE_STATUS_CHANGED,
            EventType.MESSAGE_SENT,
            EventType.MESSAGE_CHANGED,
            EventType.CALL_RECEIVED,
            EventType.QUOTA_EXCEEDED,
            EventType.UNKNOWN,
            EventType.INVALID,
        }
    )

    def presented_secret(self, headers: Mapping[str, str]) -> str:
        """`webhookUrlToken` in `Authorization`, as `Bearer <t>` or bare (Corrections)."""
        words = headers.get("Authorization", "").split()
        if len(words) == 2 and words[0].lower() == "bearer":
            return words[1]
        return words[0] if len(words) == 1 else ""

    def event_name(self, payload: Payload) -> str:
        """`typeWebhook`."""
        return text(payload.get("typeWebhook"))

    def instance_of(self, payload: Payload) -> str:
        """`instanceData.idInstance`, as text."""
        return text(obj(payload.get("instanceData")).get("idInstance"))

    def key_parts(self, payload: Payload) -> tuple[Any, ...] | None:
        """Reference R6: `idMessage` for messages, `(idMessage, status)` for statuses."""
        name, instance = self.event_name(payload), self.instance_of(payload)
        message_id = text(payload.get("idMessage"))
        if name in MESSAGE_NOTIFICATIONS and message_id:
            return (instance, "message", message_id)
        if name == "outgoingMessageStatus" and message_id:
            return (instance, "status", message_id, text(payload.get("status")))
        if name == "incomingCall" and message_id:
            return (instance, "call", message_id, text(payload.get("status")))
        if name == "stateInstanceChanged":
            # Not in R6: each change has its own timestamp, repeated when GreenAPI resends it.
            return (
                instance,
                name,
                text(payload.get("stateInstance")),
                text(payload.get("timestamp")),
            )
        return None

    def state_instance_changed(self, payload: Payload) -> list[ProviderEvent]:
        """The instance state; `instanceData.wid` is the linked account once authorized."""
        state = string(payload, "stateInstance", MAX_WORD)
        mapping = greenapi_connection_state(state)
        phone = jid_digits(jid(child(payload, "instanceData"), "wid"))
        return [
            ConnectionChanged(
                **self._common(payload),
                status=mapping.status,
                reason=mapping.reason,
                provider_state=state,
                phone=phone if mapping.status is ConnectionStatus.CONNECTED else "",
            )
        ]

    def message_received(self, payload: Payload) -> list[ProviderEvent]:
        """Incoming, or sent from the phone (`outgoingMessageReceived`, same shape, ref 2.4).

        Edits, deletions and reactions come in the same notifications and change the message
        they name (`stanzaId`) instead of being messages (Corrections and additions).
        """
        sender = child(payload, "senderData")
        chat = jid(sender, "chatId")
        is_group = chat.endswith("@g.us")
        data = child(payload, "messageData")
        who = jid(sender, "sender") if is_group else chat
        from_me = self.event_name(payload) == "outgoingMessageReceived"
        change = self._change(payload, data, chat, who, from_me)
        if change is not None:
            return [change]
        body = content(data)
        return [
            MessageReceived(
                **self._common(payload),
                message_id=string(payload, "idMessage", MAX_ID),
                chat_id=chat,
                sender=who,
                from_me=from_me,
                push_name=string(sender, "senderName", MAX_NAME),
                is_group=is_group,
                **body,
                fingerprint=notification_fingerprint(data),
                reply_to=string(child(data, "quotedMessage"), "stanzaId", MAX_ID),
                media_source=(
                    {"downloadUrl": body["media_url"]}
                    if body["message_type"] in MEDIA_KINDS and body["media_url"]
                    else {}
                ),
            )
        ]

    def _change(
        self, payload: Payload, data: Payload, chat: str, sender: str, from_me: bool
    ) -> MessageChanged | None:
        """The edit, deletion or reaction a message notification carries, if it is one."""
        kind = string(data, "typeMessage", MAX_WORD)
        if kind not in CHANGES:
            return None
        change, holder, text_path = CHANGES[kind]
        new_text = string(child(data, text_path[0]), text_path[1], MAX_TEXT) if text_path else ""
        return MessageChanged(
            **self._common(payload),
            change=change,
            message_id=string(child(data, holder), "stanzaId", MAX_ID),
            chat_id=chat,
            sender=sender,
            from_me=from_me,
            text=new_text,
        )

    def incoming_call(self, payload: Payload) -> list[ProviderEvent]:
        """A call: `offer` first, then pickUp, hangUp, missed or declined (GreenAPI docs)."""
        chat = jid(payload, "from")
        if not chat or chat.endswith("@g.us"):
            return []
        return [
            CallReceived(
                **self._common(payload),
                call_id=string(payload, "idMessage", MAX_ID),
                chat_id=chat,
                status=string(payload, "status", MAX_WORD),
            )
        ]

    def quota_exceeded(self, payload: Payload) -> list[ProviderEvent]:
        """The plan's quota is spent (Developer plan, `quotaData`, reference 2.4)."""
        quota = child(payload, "quotaData")
        return [
            QuotaExceeded(
                **self._common(payload),
                quota=string(quota, "method", MAX_WORD),
                detail=string(quota, "description", MAX_DETAIL)
                or string(quota, "status", MAX_WORD),
            )
        ]

    def api_message_sent(self, payload: Payload) -> list[ProviderEvent]:
        """The echo of a send through the API; statuses follow in outgoingMessageStatus."""
        body = content(child(payload, "messageData"))
        return [
            MessageSent(
                **self._common(payload),
                message_id=string(payload, "idMessage", MAX_ID),
                chat_id=jid(child(payload, "senderData"), "chatId"),
                text=body["text"] or body["caption"],
                fingerprint=notification_fingerprint(obj(payload.get("messageData"))),
            )
        ]

    def outgoing_message_status(self, payload: Payload) -> list[ProviderEvent]:
        """A receipt: sent, delivered, read, or one of the failures (reference 2.4)."""
        provider_status = string(payload, "status", MAX_WORD)
        mapping = greenapi_message_status(provider_status)
        return [
            MessageStatusChanged(
                **self._common(payload),
                message_id=string(payload, "idMessage", MAX_ID),
                status=mapping.status,
                reason=mapping.reason,
                chat_id=jid(payload, "chatId"),
                provider_status=provider_status,
                detail=string(payload, "description", MAX_DETAIL),
            )
        ]

    def _common(self, payload: Payload) -> dict[str, Any]:
        """Fields every event has; `timestamp` is the notification's epoch seconds."""
        return {
            "provider": self.provider,
            "instance": self.instance_of(payload),
            "raw": payload,
            "occurred_at": stamp(payload, "timestamp"),
        }

    HANDLERS: ClassVar[Mapping[str, Any]] = {
        "stateInstanceChanged": state_instance_changed,
        "incomingMessageReceived": message_received,
        "outgoingMessageReceived": message_received,
        "outgoingAPIMessageReceived": api_message_sent,
        "outgoingMessageStatus": outgoing_message_status,
        "incomingCall": incoming_call,
        "quotaExceeded": quota_exceeded,
    }


def content(data: Payload) -> dict[str, Any]:
    """Kind, text, media and details of a `messageData` object."""
    kind = KINDS.get(string(data, "typeMessage", MAX_WORD), MessageKind.UNSUPPORTED)
    files = child(data, "fileMessageData")
    return {
        "message_type": kind,
        "text": string(child(data, "textMessageData"), "textMessage", MAX_TEXT)
        or string(child(data, "extendedTextMessageData"), "text", MAX_TEXT),
        "media_url": string(files, "downloadUrl", MAX_URL),
        "caption": string(files, "caption", MAX_TEXT),
        "file_name": string(files, "fileName", MAX_FILE_NAME),
        "mime_type": string(files, "mimeType", MAX_MIME),
        "extra": details(data, DETAILS.get(kind, {})),
    }
