"""The live feeds of the inbox and conversation pages (messaging/feed.py), as JSON or 304."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from . import feed
from .presentation import conversation_row, message_row
from .views import as_uuid


def answer(request: HttpRequest, found: feed.Changes, row: Callable[[Any], Any]) -> HttpResponse:
    """304 with no body when the page already has this answer, else the changed rows."""
    if request.headers.get("If-None-Match") == found.etag:
        response = HttpResponse(status=304)
    else:
        response = JsonResponse(
            {"cursor": found.cursor.isoformat(), "rows": [row(r) for r in found.rows]}
        )
    response["ETag"] = found.etag
    response["Cache-Control"] = "no-cache"
    return response


def since(request: HttpRequest) -> Any:
    """The `since` cursor, or None when it is missing or malformed."""
    return feed.parse_cursor(request.GET.get("since"))


BAD_CURSOR = {"error": "Pass `since`: the cursor of the page or of the last answer."}


@login_required
@require_GET
def inbox_feed(request: HttpRequest, slug: str) -> HttpResponse:
    """Conversations of the workspace changed since the cursor (same filters as the page)."""
    cursor, number = since(request), request.GET.get("number", "")
    if cursor is None:
        return JsonResponse(BAD_CURSOR, status=400)
    if number and as_uuid(number) is None:
        return JsonResponse({"error": "`number` must be a number's id."}, status=400)
    found = feed.conversation_changes(
        int(request.user.pk or 0), slug, cursor, number, request.GET.get("q", "")
    )
    return answer(request, found, conversation_row)


@login_required
@require_GET
def conversation_feed(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """Messages of the conversation new or changed since the cursor."""
    cursor = since(request)
    if cursor is None:
        return JsonResponse(BAD_CURSOR, status=400)
    found = feed.message_changes(int(request.user.pk or 0), conversation_id, cursor)
    return answer(request, found, message_row)
