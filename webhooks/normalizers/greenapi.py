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

from .base import Payload, WebhookNormalizer, epoch, obj, picked, text

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
        state = text(payload.get("stateInstance"))
        mapping = greenapi_connection_state(state)
        phone = jid_digits(text(obj(payload.get("instanceData")).get("wid")))
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
        sender = obj(payload.get("senderData"))
        chat = text(sender.get("chatId"))
        is_group = chat.endswith("@g.us")
        data = obj(payload.get("messageData"))
        who = text(sender.get("sender")) if is_group else chat
        from_me = self.event_name(payload) == "outgoingMessageReceived"
        change = self._change(payload, data, chat, who, from_me)
        if change is not None:
            return [change]
        body = content(data)
        return [
            MessageReceived(
                **self._common(payload),
                message_id=text(payload.get("idMessage")),
                chat_id=chat,
                sender=who,
                from_me=from_me,
                push_name=text(sender.get("senderName")),
                is_group=is_group,
                **body,
                fingerprint=notification_fingerprint(data),
                reply_to=text(obj(data.get("quotedMessage")).get("stanzaId")),
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
        kind = text(data.get("typeMessage"))
        if kind not in CHANGES:
            return None
        change, holder, text_path = CHANGES[kind]
        return MessageChanged(
            **self._common(payload),
            change=change,
            message_id=text(obj(data.get(holder)).get("stanzaId")),
            chat_id=chat,
            sender=sender,
            from_me=from_me,
            text=text(obj(data.get(text_path[0])).get(text_path[1])) if text_path else "",
        )

    def incoming_call(self, payload: Payload) -> list[ProviderEvent]:
        """A call: `offer` first, then pickUp, hangUp, missed or declined (GreenAPI docs)."""
        chat = text(payload.get("from"))
        if not chat or chat.endswith("@g.us"):
            return []
        return [
            CallReceived(
                **self._common(payload),
                call_id=text(payload.get("idMessage")),
                chat_id=chat,
                status=text(payload.get("status")),
            )
        ]

    def quota_exceeded(self, payload: Payload) -> list[ProviderEvent]:
        """The plan's quota is spent (Developer plan, `quotaData`, reference 2.4)."""
        quota = obj(payload.get("quotaData"))
        return [
            QuotaExceeded(
                **self._common(payload),
                quota=text(quota.get("method")),
                detail=text(quota.get("description")) or text(quota.get("status")),
            )
        ]

    def api_message_sent(self, payload: Payload) -> list[ProviderEvent]:
        """The echo of a send through the API; statuses follow in outgoingMessageStatus."""
        body = content(obj(payload.get("messageData")))
        return [
            MessageSent(
                **self._common(payload),
                message_id=text(payload.get("idMessage")),
                chat_id=text(obj(payload.get("senderData")).get("chatId")),
                text=body["text"] or body["caption"],
                fingerprint=notification_fingerprint(obj(payload.get("messageData"))),
            )
        ]

    def outgoing_message_status(self, payload: Payload) -> list[ProviderEvent]:
        """A receipt: sent, delivered, read, or one of the failures (reference 2.4)."""
        provider_status = text(payload.get("status"))
        mapping = greenapi_message_status(provider_status)
        return [
            MessageStatusChanged(
                **self._common(payload),
                message_id=text(payload.get("idMessage")),
                status=mapping.status,
                reason=mapping.reason,
                chat_id=text(payload.get("chatId")),
                provider_status=provider_status,
            )
        ]

    def _common(self, payload: Payload) -> dict[str, Any]:
        """Fields every event has; `timestamp` is the notification's epoch seconds."""
        return {
            "provider": self.provider,
            "instance": self.instance_of(payload),
            "raw": payload,
            "occurred_at": epoch(payload.get("timestamp")),
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
    kind = KINDS.get(text(data.get("typeMessage")), MessageKind.UNSUPPORTED)
    extended = obj(data.get("extendedTextMessageData"))
    files = obj(data.get("fileMessageData"))
    return {
        "message_type": kind,
        "text": text(obj(data.get("textMessageData")).get("textMessage"))
        or text(extended.get("text")),
        "media_url": text(files.get("downloadUrl")),
        "caption": text(files.get("caption")),
        "file_name": text(files.get("fileName")),
        "mime_type": text(files.get("mimeType")),
        "extra": picked(data, DETAILS.get(kind, {})),
    }
