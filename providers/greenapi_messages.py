"""GreenAPI message bodies: the echo notification's `messageData` and lastOutgoingMessages items.

Both read through one table, so an echo and a history entry of one send give the same fingerprint.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any

from providers.base import body_fingerprint, epoch_time, jid_digits
from providers.types import MediaKind, SentRecord

# typeMessage of what we send → body_fingerprint kind. sendFileByUrl picks the type from the file
# name's extension (reference 2.3), so a "document" named photo.jpg comes back as imageMessage.
SENT_KINDS: dict[str, str] = {
    "textMessage": "text",
    "extendedTextMessage": "text",
    "quotedMessage": "text",
    "imageMessage": MediaKind.IMAGE.value,
    "videoMessage": MediaKind.VIDEO.value,
    "audioMessage": MediaKind.AUDIO.value,
    "documentMessage": MediaKind.DOCUMENT.value,
}


def file_kind(file_name: str) -> MediaKind:
    """The kind GreenAPI sends a file as: image, video or audio by its extension, else document."""
    family = (mimetypes.guess_type(file_name)[0] or "").split("/")[0]
    return MediaKind(family) if family in ("image", "video", "audio") else MediaKind.DOCUMENT


def notification_fingerprint(message_data: Mapping[str, Any]) -> str:
    """body_fingerprint of a notification's `messageData` (incoming or outgoing shape)."""
    return _fingerprint(
        message_data.get("typeMessage"),
        _mapping(message_data.get("textMessageData")).get("textMessage")
        or _mapping(message_data.get("extendedTextMessageData")).get("text"),
        _mapping(message_data.get("fileMessageData")).get("caption"),
    )


def history_record(item: Mapping[str, Any]) -> SentRecord | None:
    """One lastOutgoingMessages item sent through the API to a person; None for anything else."""
    chat = str(item.get("chatId") or "")
    # Typed on the phone (listed once outgoingMessageWebhook is on): never one of our sends.
    if not chat.endswith("@c.us") or item.get("sendByApi") is False or not item.get("idMessage"):
        return None
    fingerprint = _fingerprint(
        item.get("typeMessage"),
        item.get("textMessage") or _mapping(item.get("extendedTextMessage")).get("text"),
        item.get("caption"),
    )
    # `timestamp` is the time of the message's last action (a receipt), not of the send.
    return SentRecord(
        provider_message_id=str(item["idMessage"]),
        to=jid_digits(chat),
        fingerprint=fingerprint,
        sent_at=epoch_time(item.get("timestamp")),
    )


def _fingerprint(type_message: Any, text: Any, caption: Any) -> str:
    """Fingerprint by kind; kinds we never send keep their own name and match nothing of ours."""
    name = str(type_message or "")
    kind = SENT_KINDS.get(name, name)
    value = text if kind == "text" else caption
    return body_fingerprint(kind, value if isinstance(value, str) else "")


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}
