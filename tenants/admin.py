"""Operators manage tenants, memberships and API keys here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import SCOPES, ApiKey, Membership, Tenant
from .services import issue_api_key, revoke_api_key, unique_slug


class MembershipInline(admin.TabularInline):
    """Members of a tenant, edited on the tenant's page."""

    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """Tenants with their memberships inline."""

    list_display = ["name", "slug", "is_active", "max_numbers", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
    readonly_fields = ["id", "created_at"]

    def save_model(
        self, request: HttpRequest, obj: Tenant, form: forms.ModelForm, change: bool
    ) -> None:
        """Fill in a unique slug when the operator leaves it empty."""
        obj.slug = obj.slug or unique_slug(obj.name)
        super().save_model(request, obj, form, change)

    def get_form(
        self, request: HttpRequest, obj: Tenant | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        """The slug is optional on creation."""
        form = super().get_form(request, obj, change, **kwargs)
        form.base_fields["slug"].required = False
        return form


class ApiKeyCreateForm(forms.ModelForm):
    """Create a key: tenant, name, scopes as checkboxes, optional expiry."""

    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in SCOPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "scopes", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys: the raw key is shown once, at creation; afterwards only its prefix."""

    list_display = [
        "name",
        "tenant",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["tenant", "revoked_at"]
    search_fields = ["name", "prefix", "tenant__name"]
    actions = ["revoke"]

    def get_form(
        self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        """The create form for new keys."""
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        """Nothing but the name and expiry changes after creation."""
        if obj is None:
            return []
        return [
            "tenant",
            "prefix",
            "scopes",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        """Creation asks only what it needs."""
        if obj is None:
            return ("tenant", "name", "scopes", "expires_at")
        return (
            "tenant",
            "name",
            "prefix",
            "scopes",
            "created_by",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        )

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool
    ) -> None:
        """On creation, issue the key through the service and show it once."""
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = issue_api_key(
            obj.tenant,
            obj.name,
            form.cleaned_data["scopes"],
            created_by=request.user if isinstance(request.user, User) else None,
            expires_at=obj.expires_at,
        )
        obj.__dict__.update(key.__dict__)
        messages.warning(
            request, f"API key created. Copy it now, it will not be shown again: {raw}"
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        """Revoke keys at once; a revoked key answers 401."""
        count = sum(revoke_api_key(key) for key in queryset)
        messages.success(request, f"{count} key(s) revoked.")
