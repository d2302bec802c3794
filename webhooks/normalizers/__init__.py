"""One webhook normalizer per provider: webhooks/normalizers/<provider>.py, found by its name.

The providers registry says which providers exist; each one's module here holds the one
WebhookNormalizer subclass whose `provider` is that name. Adding a provider adds a module.
"""

from __future__ import annotations

import inspect
from functools import cache
from importlib import import_module

from providers.registry import get_spec

from .base import WebhookNormalizer


@cache
def get_normalizer(provider: str) -> WebhookNormalizer:
    """The (stateless, shared) normalizer of a provider; an unknown name is UnknownProviderError."""
    return normalizer_class(provider)()


def normalizer_class(provider: str) -> type[WebhookNormalizer]:
    """The normalizer class in webhooks/normalizers/<provider>.py."""
    name = get_spec(provider).name
    module = import_module(f"{__name__}.{name}")
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, WebhookNormalizer) and getattr(cls, "provider", None) == name
    ]
    if len(found) != 1:
        raise LookupError(f"{module.__name__} must define one WebhookNormalizer for {name!r}")
    return found[0]
