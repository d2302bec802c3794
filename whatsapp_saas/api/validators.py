"""Field validators the API's serializers share."""

from __future__ import annotations

from rest_framework import serializers

from whatsapp_saas.netguard import URLNotAllowed, check_url


def public_url(value: str, *, https_only: bool = False) -> str:
    """`value` when a provider or our workers may fetch it; else a 400 coded `url_not_allowed`."""
    try:
        check_url(value, https_only=https_only)
    except URLNotAllowed as exc:
        raise serializers.ValidationError(str(exc), code=URLNotAllowed.code) from exc
    return value
