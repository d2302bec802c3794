"""The change feed of the live inbox and conversation pages: one indexed query per refresh.

A page keeps a cursor (the newest `updated_at` it has seen) and the ETag of its last answer. A
refresh reads the rows changed since the cursor, minus LAG: a transaction that stamped its row
before another but committed after it is still seen. The same rows give the same ETag, so a
refresh when nothing changed is answered 304 with an empty body. Membership is part of the one
query: a conversation the user may not see simply never changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import F, JSONField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone

from providers.base import digits_only

from .models import Conversation, Message

LAG = timedelta(seconds=3)
LIMIT = 200
MESSAGE_COLUMNS = (
    "id",
    "direction",
    "type",
    "text",
    "caption",
    "file_name",
    "status",
    "error_code",
    "error_message",
    "created_at",
    "updated_at",
    # What the bubble shows of its content: edits, deletions, reactions, calls and the file.
    "edited_at",
    "deleted_at",
    "reactions",
    "extra",
    "media_file__status",
    "media_file__mime_type",
)


@dataclass
class Changes:
    """The rows changed since a cursor, the next cursor and the answer's ETag."""

    rows: list[dict[str, Any]]
    cursor: datetime
    etag: str


def changes(rows: list[dict[str, Any]], since: datetime) -> Changes:
    """Wrap rows (ordered by `updated_at`) with the next cursor and their ETag."""
    cursor = max([since, *(row["updated_at"] for row in rows)])
    versions = ",".join(f"{row['id']}@{row['updated_at'].isoformat()}" for row in rows)
    digest = hashlib.sha256(f"{cursor.isoformat()}|{versions}".encode()).hexdigest()[:20]
    return Changes(rows, cursor, f'"{digest}"')


def message_changes(user_id: int, conversation_id: UUID | str, since: datetime) -> Changes:
    """Messages of a conversation the user may see, changed since the cursor."""
    rows = list(
        Message.objects.filter(
            conversation_id=conversation_id,
            updated_at__gt=since - LAG,
            tenant__is_active=True,
            tenant__memberships__user_id=user_id,
        )
        .order_by("updated_at")
        .values(*MESSAGE_COLUMNS)[:LIMIT]
    )
    return changes(rows, since)


def conversation_changes(
    user_id: int, slug: str, since: datetime, number: str = "", q: str = ""
) -> Changes:
    """Conversations of the workspace changed since the cursor, with their last message."""
    found = inbox(
        Conversation.objects.filter(
            tenant__slug=slug,
            tenant__is_active=True,
            tenant__memberships__user_id=user_id,
            updated_at__gt=since - LAG,
        ),
        number,
        q,
    )
    return changes(list(found.order_by("updated_at")[:LIMIT]), since)


def inbox(conversations: QuerySet[Conversation], number: str = "", q: str = "") -> QuerySet[Any]:
    """Filter by number and by a name or phone search; add the last message's preview."""
    if number:
        conversations = conversations.filter(number_id=number)
    if q.strip():
        match = Q(contact__name__icontains=q.strip())
        if digits := digits_only(q):
            match |= Q(contact__phone__contains=digits)
        conversations = conversations.filter(match)
    last = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .order_by("-created_at")
        .values(
            preview=JSONObject(text="text", caption="caption", type="type", direction="direction")
        )[:1]
    )
    return conversations.values(
        "id",
        "unread_count",
        "last_message_at",
        "updated_at",
        name=F("contact__name"),
        phone=F("contact__phone"),
        jid=F("contact__jid"),
        is_group=F("contact__is_group"),
        number_name=F("number__name"),
    ).annotate(preview=Subquery(last, output_field=JSONField()))


def parse_cursor(value: str | None) -> datetime | None:
    """A cursor from the query string (ISO 8601), or None when it is missing or malformed."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else None
