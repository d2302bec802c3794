"""DRF authentication with `Authorization: Bearer <api key>`."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .models import KEY_PREFIX, ApiKey, hash_key

LAST_USED_RESOLUTION = timedelta(minutes=1)


class SignedInRequest(HttpRequest):
    """The request of a `login_required` page: its user is signed in (a type, not a check)."""

    user: User


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate a request by its API key; `request.auth` is the ApiKey, `request.user` None."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        """Return (None, key) for a good key, None when no key was sent, 401 otherwise."""
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not raw.strip():
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header; use 'Bearer <api key>'."
            )
        return None, self.key_for(raw.strip())

    def key_for(self, raw: str) -> ApiKey:
        """Find the usable key matching a raw key, or raise 401."""
        parts = raw.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        key = ApiKey.objects.usable().select_related("tenant").filter(prefix=parts[1]).first()
        if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw)):
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired API key.")
        self.touch(key)
        return key

    @staticmethod
    def touch(key: ApiKey) -> None:
        """Record use, at most once a minute per key, so reads do not all become writes."""
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now

    def authenticate_header(self, request: Request) -> str:
        """Make DRF answer 401 (not 403) when no key was sent."""
        return self.keyword
