"""How messages and conversations look on the tenant pages and in their live feeds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import dateformat, timezone

from tenants.templatetags.portal import format_phone

# Status -> (the SVG symbol drawn, what it says); read and played are the blue double tick.
TICKS = {
    "queued": ("t-queued", "Queued"),
    "sent": ("t-sent", "Sent"),
    "delivered": ("t-double", "Delivered"),
    "read": ("t-double", "Read"),
    "played": ("t-double", "Played"),
    "failed": ("t-failed", "Failed"),
}


def clock(at: datetime | None, fmt: str = "H:i") -> str:
    """A time as the pages print it."""
    return dateformat.format(timezone.localtime(at), fmt) if at else ""


def message_row(m: dict[str, Any]) -> dict[str, Any]:
    """A message for the conversation page and its script (text only: the page escapes it).

    The page's template (messaging/bubble.html) and its script draw the same row.
    """
    symbol, label = TICKS.get(m["status"], ("", ""))
    deleted = m.get("deleted_at") is not None
    return {
        "id": str(m["id"]),
        "direction": m["direction"],
        "type": m["type"],
        "text": "" if deleted else (m["text"] or m["caption"]),
        "file_name": m["file_name"],
        "status": m["status"],
        "tick": symbol,
        "label": label,
        "error": m["error_message"] if m["status"] == "failed" else "",
        "time": clock(m["created_at"]),
        "created_at": m["created_at"].isoformat(),
        "version": m["updated_at"].isoformat() if m.get("updated_at") else "",
        "deleted": deleted,
        "edited": m.get("edited_at") is not None and not deleted,
        "media": None if deleted else media_of(m),
        "reactions": reactions_of(m.get("reactions") or []),
        "call": call_of(m),
    }


# How a stored file is shown: by the family of its type; anything else is a download link.
PLAYERS = {"image": "image", "audio": "audio", "video": "video"}
MEDIA_NOTES = {
    "pending": "Fetching the file…",
    "failed": "The file could not be fetched.",
    "too_large": "The file is too large to keep.",
    "expired": "The file is no longer kept.",
}
CALL_WORDS = {
    "offer": "Incoming call",
    "ringing": "Incoming call",
    "accept": "Answered call",
    "pickUp": "Answered call",
    "timeout": "Missed call",
    "missed": "Missed call",
    "declined": "Missed call",
    "reject": "Declined call",
    "hangUp": "Declined call",
    "terminate": "Call ended",
}


def media_of(m: dict[str, Any]) -> dict[str, Any] | None:
    """The file of an inbound media message: how to show it, or why it cannot be shown."""
    status = m.get("media_file__status")
    if not status:
        return None
    mime = str(m.get("media_file__mime_type") or "")
    family = mime.split("/")[0]
    stored = status == "stored"
    return {
        "status": status,
        "kind": PLAYERS.get(family, "file") if stored else "note",
        "url": reverse("message-media", args=[m["id"]]) if stored else "",
        "mime": mime,
        "note": MEDIA_NOTES.get(status, ""),
    }


def reactions_of(reactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reactions as chips: each emoji once, with how many reacted with it."""
    counts: dict[str, int] = {}
    for reaction in reactions:
        emoji = str(reaction.get("emoji") or "")
        if emoji:
            counts[emoji] = counts.get(emoji, 0) + 1
    return [{"emoji": emoji, "count": count} for emoji, count in counts.items()]


def call_of(m: dict[str, Any]) -> str:
    """What a call entry says ("Missed video call"), or "" for other messages."""
    if m["type"] != "call":
        return ""
    extra = m.get("extra") or {}
    words = CALL_WORDS.get(str(extra.get("status") or ""), "Call")
    return words.replace("call", "video call") if extra.get("is_video") else words


def title(row: dict[str, Any]) -> str:
    """A conversation's name: the contact's, else its phone."""
    return str(row["name"] or format_phone(row["phone"]) or row["jid"])


def preview(data: dict[str, Any] | None) -> str:
    """The last message in one line: "You: …" for ours, "[image] caption" for media."""
    if not data:
        return ""
    body = data.get("text") or data.get("caption") or ""
    if data.get("type") and data["type"] != "text":
        body = f"[{data['type']}] {body}".strip()
    return f"You: {body}" if data.get("direction") == "outbound" else body


def conversation_row(row: dict[str, Any]) -> dict[str, Any]:
    """A conversation for the inbox page and its script."""
    return {
        "id": str(row["id"]),
        "url": reverse("conversation", args=[row["id"]]),
        "title": title(row),
        "subtitle": "group" if row["is_group"] else format_phone(row["phone"]),
        "number": row["number_name"],
        "unread": row["unread_count"],
        "last_message_at": row["last_message_at"].isoformat() if row["last_message_at"] else "",
        "when": clock(row["last_message_at"], "Y-m-d H:i"),
        "preview": preview(row["preview"]),
    }
