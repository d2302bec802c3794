"""Template context shared by every portal page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .services import tenants_of


def tenants(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's tenants, for the navigation (evaluated only when a template uses it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_tenants": []}
    return {"nav_tenants": tenants_of(user)}
