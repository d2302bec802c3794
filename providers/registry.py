"""The one table of providers: name -> label, gateway class, settings names.

A provider's webhook normalizer is found by the webhooks app (webhooks/normalizers/<name>.py);
this lowest layer names nothing above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from providers.types import CredentialField, ProviderConfig

if TYPE_CHECKING:
    from providers.base import ProviderGateway


class UnknownProviderError(LookupError):
    """A provider name that is not in the registry."""


@dataclass(frozen=True)
class ProviderSpec:
    """How to build and name one provider."""

    name: str
    label: str
    gateway: str
    url_setting: str
    key_setting: str


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            name="evolution",
            label="Evolution API v2",
            gateway="providers.evolution.EvolutionGateway",
            url_setting="EVOLUTION_API_URL",
            key_setting="EVOLUTION_API_KEY",
        ),
        ProviderSpec(
            name="greenapi",
            label="GreenAPI",
            gateway="providers.greenapi.GreenApiGateway",
            url_setting="GREENAPI_API_URL",
            # Optional: only instance listing (Partner API) needs it.
            key_setting="GREENAPI_PARTNER_TOKEN",
        ),
    )
}

PROVIDER_CHOICES: list[tuple[str, str]] = [(spec.name, spec.label) for spec in PROVIDERS.values()]


def get_spec(name: str) -> ProviderSpec:
    """The registry entry for `name`; an unknown name raises UnknownProviderError."""
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProviderError(f"unknown provider {name!r}; known: {known}") from None


def get_gateway_class(name: str) -> type[ProviderGateway]:
    """Import the gateway class of `name`."""
    gateway_class: type[ProviderGateway] = import_string(get_spec(name).gateway)
    return gateway_class


def credential_fields(name: str) -> tuple[CredentialField, ...]:
    """The per-number credentials provider `name` needs."""
    return get_gateway_class(name).credentials


def all_credential_fields() -> list[tuple[str, CredentialField]]:
    """(provider, field) for every provider's credentials, in registry order."""
    return [(name, field) for name in PROVIDERS for field in credential_fields(name)]


def config_from_settings(name: str) -> ProviderConfig:
    """The platform-level config of `name`, read from Django settings."""
    from django.conf import settings

    spec = get_spec(name)
    return ProviderConfig(
        base_url=getattr(settings, spec.url_setting),
        api_key=getattr(settings, spec.key_setting, ""),
        connect_timeout=settings.PROVIDER_CONNECT_TIMEOUT,
        read_timeout=settings.PROVIDER_READ_TIMEOUT,
        breaker_fail_max=settings.PROVIDER_BREAKER_FAIL_MAX,
        breaker_reset_seconds=settings.PROVIDER_BREAKER_RESET_SECONDS,
        redis_url=settings.REDIS_URL,
    )


def get_gateway(name: str, config: ProviderConfig | None = None) -> ProviderGateway:
    """A gateway for `name`, configured from settings unless `config` is given."""
    gateway_class = get_gateway_class(name)
    return gateway_class(config or config_from_settings(name))
