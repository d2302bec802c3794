"""Workspace settings pages for owners and admins: API keys (webhook endpoints come later)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from .access import require_manager, workspace
from .auth import SignedInRequest
from .models import SCOPES, ApiKey
from .services import issue_api_key, revoke_api_key

NEW_KEY_SESSION = "tenants.new-api-key"
SCOPE_HELP = {
    "numbers:read": "see numbers, their status and history",
    "numbers:write": "add, link, change and delete numbers",
    "messages:read": "read messages and conversations",
    "messages:send": "send messages",
}


class ApiKeyForm(forms.Form):
    """A new key: its name, what it may do, and optionally when it stops working."""

    name = forms.CharField(max_length=100, help_text="Who uses it, e.g. CRM or billing.")
    scopes = forms.MultipleChoiceField(
        choices=[(s, f"{s} — {SCOPE_HELP[s]}") for s in SCOPES],
        widget=forms.CheckboxSelectMultiple,
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expires_on(self) -> datetime | None:
        """A day after today; the key stops working at its midnight (UTC)."""
        day = self.cleaned_data["expires_on"]
        if day is None:
            return None
        if day <= timezone.now().date():
            raise forms.ValidationError("Pick a day after today.")
        return datetime.combine(day, time.min, tzinfo=UTC)


@login_required
def api_keys(request: SignedInRequest, slug: str) -> HttpResponse:
    """The workspace's keys with their last use; create one (its secret is shown once)."""
    tenant, membership = workspace(request.user, slug)
    require_manager(membership)
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        key, raw = issue_api_key(
            tenant,
            form.cleaned_data["name"],
            form.cleaned_data["scopes"],
            created_by=request.user,
            expires_at=form.cleaned_data["expires_on"],
        )
        request.session[NEW_KEY_SESSION] = {"id": str(key.pk), "raw": raw}
        return redirect("settings-keys", slug=tenant.slug)
    return render(
        request,
        "tenants/settings_keys.html",
        {
            "tenant": tenant,
            "form": form,
            "keys": ApiKey.objects.filter(tenant=tenant).order_by("revoked_at", "-created_at"),
            "new_key": request.session.pop(NEW_KEY_SESSION, None),
            "now": timezone.now(),
            "section": "settings",
            "settings_page": "keys",
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def revoke_key(request: HttpRequest, slug: str, key_id: str) -> HttpResponse:
    """Revoke a key of the workspace: it answers 401 from now on."""
    tenant, membership = workspace(request.user, slug)
    require_manager(membership)
    key = get_object_or_404(ApiKey, tenant=tenant, pk=key_id)
    if revoke_api_key(key):
        messages.success(request, f"The key {key.name} ({key.prefix}…) was revoked.")
    return redirect("settings-keys", slug=tenant.slug)
