"""Credentials of instances made in a provider's console, checked before a number is created."""

from __future__ import annotations

import logging

from providers.base import ProviderGateway
from providers.errors import ProviderAuthenticationError, ProviderNotFoundError
from providers.types import InstanceRef

from .errors import InvalidCredentials

logger = logging.getLogger(__name__)

# The request fields that carry each adopting provider's credentials (API.md "Numbers").
CREDENTIAL_FIELDS = {"greenapi": ("greenapi_id_instance", "greenapi_api_token")}


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
            CREDENTIAL_FIELDS.get(provider, ()),
        ) from exc
