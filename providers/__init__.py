"""Provider gateway layer: the lowest layer, importing none of our apps."""

from providers.registry import PROVIDER_CHOICES, get_gateway

__all__ = ["PROVIDER_CHOICES", "get_gateway"]
