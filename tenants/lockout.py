"""Sign-in lockout (django-axes): repeated failures lock an account for the address they came from.

Locks are kept per (username, client address), so a stranger guessing passwords cannot lock the
real user out from their own address. They end after AXES_COOLOFF_TIME, or sooner when an
operator deletes the attempt in the admin (Axes → Access attempts) or runs
`manage.py axes_reset_username <username>`.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class LockoutBackend(AxesStandaloneBackend):
    """Axes' guard for sign-ins from a request; code without one (tests, shells) is not guarded."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Refuse a locked-out account (AxesBackendPermissionDenied); never signs anyone in."""
        if request is None:
            return None
        super().authenticate(request, username, password, **kwargs)
        return None


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the
    outermost one saw (each proxy appends its peer to X-Forwarded-For, so count from the right)."""
    count: int = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded: str = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [h.strip() for h in forwarded.split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= count:
            return hops[-count]
    return str(request.META.get("REMOTE_ADDR", ""))


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The page both sign-in forms show while locked (429): why, and for how long."""
    minutes = max(int(settings.AXES_COOLOFF_TIME.total_seconds() // 60), 1)
    username: str = get_client_username(request, credentials) or ""
    context = {
        "username": username,
        "cooloff_minutes": minutes,
    }
    return render(request, "registration/locked_out.html", context, status=429)
