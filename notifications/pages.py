"""Workspace settings page for webhook endpoints: create, test, recent deliveries, delete."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tenants.access import require_manager, workspace
from tenants.auth import SignedInRequest
from tenants.models import Tenant
from whatsapp_saas.netguard import URLNotAllowed

from . import services
from .models import EVENT_TYPES, Delivery, Endpoint

# A session key, not a secret.
NEW_SECRET_SESSION = "notifications.new-endpoint-secret"  # noqa: S105
RECENT_DELIVERIES = 5
TYPE_HELP = {
    "message.status": "a sent message is delivered, read or failed",
    "message.received": "a contact wrote to one of your numbers",
    "message.updated": "a message was edited, deleted or reacted to",
    "number.status": "a number connected, disconnected or needs attention",
}


class EndpointForm(forms.Form):
    """A new endpoint: a public https:// URL and the events it wants."""

    url = forms.CharField(
        max_length=500,
        label="URL",
        help_text="A public https:// address that answers 2xx.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/whatsapp-events"}),
    )
    event_types = forms.MultipleChoiceField(
        choices=[(t, f"{t} — {TYPE_HELP.get(t, t)}") for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(EVENT_TYPES),
        label="Events",
    )


def endpoints_of(tenant: Tenant) -> list[Endpoint]:
    """The tenant's endpoints, each with its latest deliveries as `recent` (two queries)."""
    found = list(Endpoint.objects.filter(tenant=tenant).order_by("-created_at"))
    newest = Window(RowNumber(), partition_by="endpoint_id", order_by=F("created_at").desc())
    recent = (
        Delivery.objects.filter(endpoint__in=found)
        .annotate(place=newest)
        .filter(place__lte=RECENT_DELIVERIES)
        .order_by("-created_at")
    )
    by_endpoint: dict[object, list[Delivery]] = {e.pk: [] for e in found}
    for delivery in recent:
        by_endpoint[delivery.endpoint_id].append(delivery)
    for endpoint in found:
        endpoint.recent = by_endpoint[endpoint.pk]  # type: ignore[attr-defined]
    return found


@login_required
def endpoints(request: SignedInRequest, slug: str) -> HttpResponse:
    """The workspace's endpoints and their recent deliveries; register one (secret shown once)."""
    tenant, membership = workspace(request.user, slug)
    require_manager(membership)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.register_endpoint(
                tenant, form.cleaned_data["url"], form.cleaned_data["event_types"]
            )
        except URLNotAllowed as exc:
            form.add_error("url", str(exc))
        else:
            shown = {"id": str(endpoint.pk), "secret": endpoint.secret}
            request.session[NEW_SECRET_SESSION] = shown
            return redirect("settings-webhooks", slug=tenant.slug)
    return render(
        request,
        "notifications/settings_webhooks.html",
        {
            "tenant": tenant,
            "form": form,
            "endpoints": endpoints_of(tenant),
            "new_secret": request.session.pop(NEW_SECRET_SESSION, None),
            "section": "settings",
            "settings_page": "webhooks",
        },
        status=400 if form.errors else 200,
    )


def managed_endpoint(request: HttpRequest, slug: str, endpoint_id: str) -> Endpoint:
    """The workspace's endpoint, when the user may act on it (404 for another's, 403 members)."""
    tenant, membership = workspace(request.user, slug)
    require_manager(membership)
    return get_object_or_404(Endpoint, tenant=tenant, pk=endpoint_id)


@login_required
@require_POST
def test_endpoint(request: HttpRequest, slug: str, endpoint_id: str) -> HttpResponse:
    """Queue a `ping` to the endpoint; its answer shows in the recent deliveries."""
    endpoint = managed_endpoint(request, slug, endpoint_id)
    services.ping(endpoint)
    messages.success(request, f"A test event is on its way to {endpoint.url}.")
    return redirect(reverse("settings-webhooks", args=[slug]) + f"#endpoint-{endpoint.pk}")


@login_required
@require_POST
def delete_endpoint(request: HttpRequest, slug: str, endpoint_id: str) -> HttpResponse:
    """Delete the endpoint with its deliveries: nothing more is sent to it."""
    endpoint = managed_endpoint(request, slug, endpoint_id)
    services.delete_endpoint(endpoint)
    messages.success(request, f"The endpoint {endpoint.url} was deleted.")
    return redirect("settings-webhooks", slug=slug)
