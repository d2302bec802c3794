"""Operators' view of tenants' endpoints and of our deliveries to them, with redeliver."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from whatsapp_saas.netguard import URLNotAllowed

from . import services
from .models import Delivery, DeliveryAttempt, Endpoint


class EndpointForm(forms.ModelForm):
    """The URL must be one we may call, checked by the same guard as the API."""

    url = forms.CharField(max_length=500)

    class Meta:
        model = Endpoint
        fields = ["tenant", "url", "event_types", "is_active"]

    def clean_url(self) -> str:
        """A public https:// address (or an internal host listed on purpose)."""
        url = str(self.cleaned_data["url"])
        try:
            return services.checked_url(url)
        except URLNotAllowed as exc:
            raise forms.ValidationError(str(exc), code=exc.code) from exc


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    """Tenants' endpoints; the secret is never shown."""

    form = EndpointForm
    list_display = ["url", "tenant", "is_active", "event_types", "created_at"]
    list_filter = ["is_active", "tenant"]
    search_fields = ["url"]
    fields = ["tenant", "url", "event_types", "is_active", "created_at"]
    readonly_fields = ["created_at"]

    def save_model(self, request: HttpRequest, obj: Endpoint, form: Any, change: bool) -> None:
        """Save through the service."""
        services.save_endpoint(obj)

    def delete_model(self, request: HttpRequest, obj: Endpoint) -> None:
        """Delete through the service."""
        services.delete_endpoint(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        """Bulk delete through the service, one endpoint at a time."""
        for endpoint in queryset:
            services.delete_endpoint(endpoint)


class AttemptInline(admin.TabularInline):
    """Each POST of the delivery, read-only."""

    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "number",
        "started_at",
        "duration_ms",
        "address",
        "response_code",
        "outcome",
        "error",
        "response_body",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Attempts are made by workers only."""
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Every event sent to an endpoint, read-only, with its attempts and a redeliver action."""

    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_response_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event_type"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    actions = ["redeliver"]
    inlines = [AttemptInline]
    fields = readonly_fields = (
        "id",
        "event_id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "last_response_code",
        "last_error",
        "created_at",
        "delivered_at",
        "payload",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Deliveries come from events only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Read-only."""
        return False

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        """Send them again from a fresh attempt count."""
        count = services.redeliver(queryset)
        messages.success(request, f"{count} delivery(ies) queued again.")
