"""Tenant portal pages: a user reaches only the tenants they are a member of."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .access import can_manage, workspace
from .auth import SignedInRequest
from .services import tenants_of


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The user's tenants; with exactly one, go straight to it."""
    tenants = list(tenants_of(request.user))
    if len(tenants) == 1:
        return redirect("tenant-detail", slug=tenants[0].slug)
    return render(request, "tenants/home.html", {"tenants": tenants})


@login_required
def tenant_detail(request: SignedInRequest, slug: str) -> HttpResponse:
    """One tenant's overview; 404 for a tenant the user is not a member of."""
    tenant, membership = workspace(request.user, slug)
    return render(
        request,
        "tenants/tenant_detail.html",
        {"tenant": tenant, "membership": membership, "can_manage": can_manage(membership)},
    )
