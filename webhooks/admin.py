"""Operators' browser of provider webhook events, with reprocess."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from providers.masking import mask_secrets

from . import processing
from .models import WebhookEvent

LONG_VALUE = 200


def shortened(value: Any) -> Any:
    """A copy of a JSON value with huge strings (base64 media) cut for reading."""
    if isinstance(value, dict):
        return {k: shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shortened(item) for item in value]
    if isinstance(value, str) and len(value) > LONG_VALUE:
        return f"{value[:80]}… ({len(value)} characters)"
    return value


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Every delivery as received; nothing here can be edited."""

    list_display = [
        "id",
        "received_at",
        "provider",
        "event_name",
        "event_type",
        "status",
        "number",
        "attempts",
        "duplicates",
    ]
    list_filter = ["provider", "event_type", "status", ("number", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["dedupe_key", "event_name"]
    date_hierarchy = "received_at"
    list_select_related = ["number"]
    actions = ["reprocess"]
    fields = readonly_fields = (
        "provider",
        "number",
        "tenant",
        "event_name",
        "event_type",
        "status",
        "error",
        "attempts",
        "duplicates",
        "dedupe_key",
        "received_at",
        "claimed_at",
        "processed_at",
        "headers",
        "pretty_body",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Events come from providers only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Read-only: what was received stays as received."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """The retention task deletes; operators do not."""
        return False

    @admin.display(description="Body")
    def pretty_body(self, event: WebhookEvent) -> str:
        """The body as indented JSON with secrets masked (raw text when it is not JSON)."""
        payload = event.payload()
        if payload is None:
            shown = bytes(event.body)[:4000].decode("utf-8", "replace")
        else:
            shown = json.dumps(shortened(mask_secrets(payload)), indent=2, ensure_ascii=False)
        return format_html('<pre style="white-space:pre-wrap;max-width:1000px">{}</pre>', shown)

    @admin.action(description="Reprocess the selected events")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        """Queue them for processing again (processing is idempotent)."""
        count = processing.reprocess(queryset.values_list("pk", flat=True))
        messages.success(request, f"{count} event(s) queued for processing.")
