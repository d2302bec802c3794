"""One webhook normalizer per provider, named like its gateway module (providers/registry.py)."""

from __future__ import annotations

from functools import cache

from providers.registry import get_normalizer_class

from .base import WebhookNormalizer


@cache
def get_normalizer(provider: str) -> WebhookNormalizer:
    """The (stateless, shared) normalizer of a provider; unknown names raise UnknownProviderError."""
    normalizer: WebhookNormalizer = get_normalizer_class(provider)()
    return normalizer
