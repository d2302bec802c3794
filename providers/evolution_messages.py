"""Evolution message objects (send answer, send.message, upsert, findMessages row): body and record.

One reading serves the echo webhook and the history, so both give the same fingerprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.base import body_fingerprint, epoch_time, jid_digits
from providers.errors import ProviderProtocolError
from providers.types import MediaKind, SentRecord

PROVIDER = "evolution"
# messageType of what we send → body_fingerprint kind. Evolution folds extendedTextMessage into
# `conversation` and documentWithCaptionMessage into documentMessage, but not in every path (1.6).
SENT_KINDS: dict[str, str] = {
    "conversation": "text",
    "extendedTextMessage": "text",
    "imageMessage": MediaKind.IMAGE.value,
    "videoMessage": MediaKind.VIDEO.value,
    "audioMessage": MediaKind.AUDIO.value,
    "documentMessage": MediaKind.DOCUMENT.value,
    "documentWithCaptionMessage": MediaKind.DOCUMENT.value,
}


def message_fingerprint(data: Mapping[str, Any]) -> str:
    """body_fingerprint of a message object: its kind and its text (or caption for media)."""
    message = _mapping(data.get("message"))
    declared = str(data.get("messageType") or "")
    name = (
        declared if declared in message else next((k for k in SENT_KINDS if k in message), declared)
    )
    body = _mapping(message.get(name))
    if name == "documentWithCaptionMessage":
        body = _mapping(_mapping(body.get("message")).get("documentMessage"))
    # Kinds we never send keep their own name, so they cannot match one of our messages.
    kind = SENT_KINDS.get(name, name)
    value = (message.get("conversation") or body.get("text")) if kind == "text" else None
    value = body.get("caption") if kind != "text" else value
    return body_fingerprint(kind, value if isinstance(value, str) else "")


def sent_record(row: Mapping[str, Any]) -> SentRecord | None:
    """A message of ours (`fromMe`); a LID-addressed chat has its phone in remoteJidAlt (1.6)."""
    key = _mapping(row.get("key"))
    if key.get("fromMe") is not True or not key.get("id"):
        return None
    remote = str(key.get("remoteJid") or "")
    if remote.endswith("@lid"):
        remote = str(key.get("remoteJidAlt") or "")
    return SentRecord(
        provider_message_id=str(key["id"]),
        to=jid_digits(remote),
        fingerprint=message_fingerprint(row),
        sent_at=epoch_time(row.get("messageTimestamp")),
    )


def history_page(data: Any) -> tuple[list[Any], int]:
    """Records and page count of `{"messages": {"total", "pages", "currentPage", "records"}}`."""
    messages = _mapping(data.get("messages")) if isinstance(data, Mapping) else {}
    records, pages = messages.get("records"), messages.get("pages")
    if not isinstance(records, list):
        raise ProviderProtocolError(
            "findMessages answered without messages.records", provider=PROVIDER, body=data
        )
    return records, pages if isinstance(pages, int) and not isinstance(pages, bool) else 1


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}
