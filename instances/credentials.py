"""Credentials of instances made in a provider's console, checked before a number is created."""

from __future__ import annotations

import logging

from providers.base import ProviderGateway
from providers.errors import ProviderAuthenticationError, ProviderNotFoundError
from providers.registry import credential_fields
from providers.types import InstanceRef

from .errors import InvalidCredentials

logger = logging.getLogger(__name__)

# The declared credential fields an error names: those that identify and unlock the instance.
CHECKED_PARTS = ("external_id", "token")


def check_credentials(provider: str, gateway: ProviderGateway, ref: InstanceRef) -> None:
    """Ask the provider for the instance's state; a 401 (or an unknown instance) refuses them.

    Other provider errors (it is down) propagate: nothing is created, and the caller may retry.
    """
    try:
        gateway.get_state(ref)
    except (ProviderAuthenticationError, ProviderNotFoundError) as exc:
        logger.info("%s rejected instance %s credentials: %s", provider, ref.external_id, exc)
        raise InvalidCredentials(
            "The provider rejected these credentials: check the instance id and its token.",
            tuple(f.name for f in credential_fields(provider) if f.part in CHECKED_PARTS),
        ) from exc
