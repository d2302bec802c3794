"""Operators' view of messages, conversations and campaigns."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from whatsapp_saas.admin_actions import apply_each
from whatsapp_saas.netguard import URLNotAllowed, check_url

from . import campaigns
from .content import content_errors
from .models import Campaign, Conversation, Message, SendAttempt

STATUS_COLOURS = {
    "queued": "#1d4f91",
    "sent": "#555",
    "delivered": "#128c7e",
    "read": "#0b7bd6",
    "played": "#0b7bd6",
    "failed": "#c0392b",
    "received": "#128c7e",
}


def coloured(status: str, label: str) -> str:
    """A status as coloured bold text."""
    return format_html('<b style="color:{}">{}</b>', STATUS_COLOURS.get(status, "#666"), label)


class SendAttemptInline(admin.TabularInline):
    """Every try at sending, read-only."""

    model = SendAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "started_at",
        "finished_at",
        "outcome",
        "provider_status_code",
        "error_code",
        "error_message",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Attempts are written by the send task only."""
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages in and out, with their attempts."""

    list_display = [
        "created_at",
        "direction",
        "number",
        "recipient",
        "sender",
        "type",
        "status_badge",
        "attempts",
        "error_code",
    ]
    list_filter = ["status", "direction", "type", "tenant", "number"]
    search_fields = ["recipient", "sender", "provider_message_id", "client_message_id", "text"]
    readonly_fields = [f.name for f in Message._meta.fields]
    inlines = [SendAttemptInline]
    actions = ["retry"]
    list_select_related = ["number"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Messages are sent through the API, pages or campaigns."""
        return False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, message: Message) -> str:
        """The status, coloured."""
        return coloured(message.status, message.get_status_display())

    @admin.action(description="Retry selected failed messages")
    def retry(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        """Queue failed outbound messages again (same row, fresh attempts)."""
        from .outbox import retry_failed

        count = sum(retry_failed(message) for message in queryset)
        messages.success(request, f"{count} message(s) queued again.")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Conversations per number and contact."""

    list_display = ["contact", "number", "tenant", "last_message_at", "unread_count"]
    list_filter = ["tenant", "number"]
    search_fields = ["contact__phone", "contact__name"]
    readonly_fields = [
        "tenant",
        "number",
        "contact",
        "last_message_at",
        "unread_count",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Conversations start with their first message."""
        return False


class CampaignForm(forms.ModelForm):
    """Create a campaign: recipients typed one per line or uploaded as CSV."""

    recipients_text = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        label="Recipients",
        help_text="One phone number with country code per line.",
    )
    recipients_csv = forms.FileField(
        required=False,
        label="…or a CSV file",
        help_text="A column named phone, number or to; otherwise the first column.",
    )

    class Meta:
        model = Campaign
        fields = [
            "tenant",
            "number",
            "name",
            "type",
            "text",
            "media_url",
            "caption",
            "file_name",
            "delay_seconds",
        ]
        widgets = {
            "type": forms.Select(
                choices=[(t, t) for t in ("text", "image", "video", "document", "audio")]
            )
        }

    def clean_media_url(self) -> str:
        """A public http(s) URL: the provider fetches it (DESIGN.md "Media")."""
        url: str = self.cleaned_data.get("media_url") or ""
        try:
            return check_url(url).url if url else url
        except URLNotAllowed as exc:
            raise forms.ValidationError(str(exc), code=URLNotAllowed.code) from exc

    def clean(self) -> dict[str, Any]:
        """Collect recipients from both inputs; refuse values that are not phone numbers."""
        data = super().clean() or {}
        lines = (data.get("recipients_text") or "").splitlines()
        phones, invalid = campaigns.parse_recipients(lines)
        upload = data.get("recipients_csv")
        if upload:
            more, bad = campaigns.recipients_from_csv(upload.read())
            phones, invalid = phones + more, invalid + bad
        if invalid:
            self.add_error("recipients_text", f"Not phone numbers: {', '.join(invalid[:5])}")
        elif not phones:
            self.add_error("recipients_text", "Add at least one recipient.")
        data["recipients"] = list(dict.fromkeys(phones))
        if data.get("type"):
            text, media_url = data.get("text") or "", data.get("media_url") or ""
            for field, why in content_errors(data["type"], text=text, media_url=media_url).items():
                self.add_error(field, why)
        number = data.get("number")
        if number and data.get("tenant") and number.tenant_id != data["tenant"].pk:
            self.add_error("number", "This number belongs to another workspace.")
        return data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Campaigns with live progress and start / pause / cancel."""

    form = CampaignForm
    list_display = [
        "name",
        "tenant",
        "number",
        "status",
        "recipient_count",
        "progress_bar",
        "created_at",
    ]
    list_filter = ["status", "tenant"]
    actions = ["start", "pause", "cancel"]
    change_form_template = "admin/messaging/campaign/change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        """Once created, only the progress moves."""
        if obj is None:
            return []
        return [
            "tenant",
            "number",
            "name",
            "type",
            "text",
            "media_url",
            "caption",
            "file_name",
            "delay_seconds",
            "status",
            "recipient_count",
            "progress_bar",
            "started_at",
            "finished_at",
        ]

    def get_fields(self, request: HttpRequest, obj: Campaign | None = None) -> tuple[str, ...]:
        """The upload fields only on creation."""
        if obj is None:
            return (*CampaignForm.Meta.fields, "recipients_text", "recipients_csv")
        return tuple(self.get_readonly_fields(request, obj))

    def save_model(
        self, request: HttpRequest, obj: Campaign, form: forms.ModelForm, change: bool
    ) -> None:
        """New campaigns go through the service (validation, dedupe)."""
        if change:
            return
        created = campaigns.create_campaign(
            obj.tenant,
            obj.number,
            name=obj.name,
            recipients=form.cleaned_data["recipients"],
            type=obj.type,
            text=obj.text,
            media_url=obj.media_url,
            caption=obj.caption,
            file_name=obj.file_name,
            delay_seconds=obj.delay_seconds,
            created_by=request.user,
        )
        obj.__dict__.update(created.__dict__)

    @admin.display(description="Recipients")
    def recipient_count(self, campaign: Campaign) -> int:
        """How many people it goes to."""
        return len(campaign.recipients)

    @admin.display(description="Progress")
    def progress_bar(self, campaign: Campaign) -> str:
        """Counts by status with a bar of what has left the queue."""
        p = campaigns.progress(campaign)
        left = p["total"] - p["queued"] - p["not_queued"]
        percent = round(100 * left / p["total"]) if p["total"] else 0
        return format_html(
            '<div class="campaign-progress" data-percent="{}">'
            '<div style="background:#e5e5e5;width:160px;height:8px;border-radius:4px">'
            '<div style="background:#128c7e;width:{}%;height:8px;border-radius:4px"></div></div>'
            "{}% · queued {} · sent {} · delivered {} · read {} · failed {}</div>",
            percent,
            percent,
            percent,
            p["queued"] + p["not_queued"],
            p["sent"],
            p["delivered"],
            p["read"] + p["played"],
            p["failed"],
        )

    def run(self, request: HttpRequest, queryset: QuerySet[Campaign], verb: str, func: Any) -> None:
        """Apply a campaign service to each selected campaign."""
        apply_each(request, queryset, verb, func, (campaigns.CampaignError,))

    @admin.action(description="Start or resume")
    def start(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        """Queue the campaign's messages, paced."""
        self.run(request, queryset, "started", campaigns.start_campaign)

    @admin.action(description="Pause")
    def pause(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        """Stop new sends now."""
        self.run(request, queryset, "paused", campaigns.pause_campaign)

    @admin.action(description="Cancel")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        """Stop for good."""
        self.run(request, queryset, "cancelled", campaigns.cancel_campaign)
