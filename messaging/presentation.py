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
    """A message for the conversation page's script (text only: the page escapes it)."""
    symbol, label = TICKS.get(m["status"], ("", ""))
    return {
        "id": str(m["id"]),
        "direction": m["direction"],
        "type": m["type"],
        "text": m["text"] or m["caption"],
        "file_name": m["file_name"],
        "status": m["status"],
        "tick": symbol,
        "label": label,
        "error": m["error_message"] if m["status"] == "failed" else "",
        "time": clock(m["created_at"]),
        "created_at": m["created_at"].isoformat(),
    }


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
