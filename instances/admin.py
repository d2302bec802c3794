"""Operators' view of numbers: coloured status, filters, live QR, actions, history, health."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from providers.errors import ProviderError
from whatsapp_saas import operations
from whatsapp_saas.admin_actions import apply_each

from . import health, services
from .models import ConnectionEvent, Number
from .views import make_link

Source = ConnectionEvent.Source


class ConnectionEventInline(admin.TabularInline):
    """The number's connection history, newest first."""

    model = ConnectionEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "from_status", "to_status", "reason", "source")
    ordering = ["-at", "-id"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """History is written by the services only."""
        return False


def run(request: HttpRequest, queryset: QuerySet[Number], verb: str, func: Any) -> None:
    """Apply a number service to each selected number."""
    apply_each(request, queryset, verb, func, (services.NumberError, ProviderError))


@admin.register(Number)
class NumberAdmin(admin.ModelAdmin):
    """Numbers of every tenant."""

    list_display = [
        "name",
        "tenant",
        "provider",
        "coloured_status",
        "status_reason",
        "phone_number",
        "connected_at",
        "updated_at",
    ]
    list_filter = ["status", "provider", "tenant"]
    search_fields = ["name", "instance_name", "phone_number", "profile_name", "tenant__name"]
    inlines = [ConnectionEventInline]
    actions = [
        "connect",
        "disconnect",
        "reconnect",
        "resume",
        "sync_now",
        "rotate_secret",
        "delete_completely",
    ]
    readonly_fields = [
        "instance_name",
        "provider_instance_id",
        "status",
        "status_reason",
        "phone_number",
        "profile_name",
        "live_qr",
        "pairing_code",
        "connected_at",
        "disconnected_at",
        "qr_updated_at",
        "last_state_check_at",
        "last_error",
        "connect_link",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fields = ["tenant", "name", "purpose", "provider", "send_rate_per_minute", *readonly_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Numbers are added through the API or the tenant pages, which provision them."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Deleting must go through the provider: use the "delete completely" action."""
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        """Tenant and provider never change after creation."""
        return ["tenant", "provider", *self.readonly_fields]

    @admin.display(description="Status", ordering="status")
    def coloured_status(self, number: Number) -> str:
        """The status as a coloured badge."""
        colours = {
            "connected": "#128c7e",
            "qr_pending": "#1d4f91",
            "connecting": "#1d4f91",
            "paused": "#b7791f",
            "logged_out": "#c0392b",
            "banned": "#c0392b",
            "error": "#c0392b",
        }
        return format_html(
            '<b style="color:{}">{}</b>',
            colours.get(number.status, "#666"),
            number.get_status_display(),
        )

    @admin.display(description="QR code")
    def live_qr(self, number: Number) -> str:
        """The current QR while a scan is pending (the page reloads to refresh it)."""
        if not number.qr_code:
            return "—"
        return format_html(
            '<img src="{}" width="220" height="220" alt="QR"><br>'
            '<a href="{}">Open the live connect page</a>',
            number.qr_code,
            reverse("number-connect", args=[number.pk]),
        )

    @admin.display(description="Connect link for the tenant (30 minutes)")
    def connect_link(self, number: Number) -> str:
        """A signed link to the connect page that needs no account."""
        if number.is_connected:
            return "—"
        return format_html(
            '<input readonly size="80" value="{}">',
            f"{settings.PUBLIC_BASE_URL}{make_link(number)}",
        )

    @admin.action(description="Connect (show a QR)")
    def connect(self, request: HttpRequest, queryset: QuerySet[Number]) -> None:
        """Start a QR connect."""
        run(
            request,
            queryset,
            "Connect started",
            lambda n: services.connect(n, source=Source.OPERATOR),
        )

    @admin.action(description="Disconnect (log out)")
    def disconnect(self, request: HttpRequest, queryset: QuerySet[Number]) -> None:
        """Log out at the provider."""
        run(request, queryset, "Disconnected", lambda n: services.disconnect(n, Source.OPERATOR))

    @admin.action(description="Reconnect (restart)")
    def reconnect(self, request: HttpRequest, queryset: QuerySet[Number]) -> None:
        """Restart, then connect if needed."""
        run(request, queryset, "Reconnected", lambda n: services.reconnect(n, Source.OPERATOR))

    @admin.action(description="Resume (after a pause for send failures)")
    def resume(self, request: HttpRequest, queryset: QuerySet[Number]) -> None:
        """Reset the failure count and take the provider's state again."""
        run(request, queryset, "Resumed", lambda n: services.resume(n, Source.OPERATOR))

    @admin.action(description="Sync state now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Number]) -> None:
        """Read the live state from the provider."""
        run(request, queryset, "Synced", lambda n: services.check_state(n, Source.OPERATOR))

    @admin.action(description="Rotate the webhook secret")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Number]) -> None:
        """New secret at the provider; the previous one is still accepted meanwhile."""
        run(request, queryset, "Secret rotated", services.rotate_webhook_secret)

    @admin.action(description="Delete completely (provider, database, cache)")
    def delete_completely(self, request: HttpRequest, queryset: QuerySet[Number]) -> None:
        """Remove at the provider too; finished later if the provider is down."""
        run(
            request,
            queryset,
            "Deleted (or queued for deletion)",
            lambda n: services.delete_number(n, Source.OPERATOR),
        )

    def get_urls(self) -> list[Any]:
        """Add the health page."""
        return [
            path(
                "health/",
                self.admin_site.admin_view(self.health_view),
                name="instances_number_health",
            ),
            *super().get_urls(),
        ]

    def health_view(self, request: HttpRequest) -> HttpResponse:
        """The operator health page: figures of the last hour and day, queues, providers."""
        context = {
            **self.admin_site.each_context(request),
            "title": "Health",
            "report": health.report(),
            "ops": operations.report(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/instances/health.html", context)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Link the health page from the list."""
        extra = {**(extra_context or {}), "health_url": reverse("admin:instances_number_health")}
        return super().changelist_view(request, extra)
