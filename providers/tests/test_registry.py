"""The registry: every entry imports, choices derive from it, unknown names fail loudly."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from providers import registry
from providers.base import ProviderGateway
from providers.registry import (
    PROVIDER_CHOICES,
    PROVIDERS,
    UnknownProviderError,
    get_gateway,
    get_gateway_class,
    get_spec,
)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_entry_names_an_importable_gateway(name: str) -> None:
    gateway_class = get_gateway_class(name)
    assert issubclass(gateway_class, ProviderGateway) and gateway_class.name == name


def test_the_registry_names_nothing_above_the_providers_layer() -> None:
    """Normalizers are found by the webhooks app, by module name (DESIGN.md section 2)."""
    assert all("webhooks" not in spec.gateway for spec in PROVIDERS.values())
    assert not hasattr(registry, "get_normalizer_class")


def test_choices_derive_from_the_registry() -> None:
    assert [(spec.name, spec.label) for spec in PROVIDERS.values()] == PROVIDER_CHOICES
    assert [value for value, _ in PROVIDER_CHOICES] == ["evolution", "greenapi"]


@pytest.mark.parametrize("call", [get_spec, get_gateway_class, get_gateway])
def test_an_unknown_provider_fails_loudly(call: object) -> None:
    with pytest.raises(UnknownProviderError, match=r"unknown provider 'waha'.*evolution, greenapi"):
        call("waha")  # type: ignore[operator]


def test_get_gateway_builds_its_config_from_settings(settings: SettingsWrapper) -> None:
    settings.EVOLUTION_API_URL = "http://evo.internal:8080"
    settings.EVOLUTION_API_KEY = "global-key"
    settings.PROVIDER_CONNECT_TIMEOUT = 2.0
    settings.PROVIDER_READ_TIMEOUT = 12.0
    settings.PROVIDER_BREAKER_FAIL_MAX = 3
    settings.PROVIDER_BREAKER_RESET_SECONDS = 30
    config = get_gateway("evolution").config
    assert (config.base_url, config.api_key) == ("http://evo.internal:8080", "global-key")
    assert (config.connect_timeout, config.read_timeout) == (2.0, 12.0)
    assert (config.breaker_fail_max, config.breaker_reset_seconds) == (3, 30)
    assert config.redis_url == settings.REDIS_URL


def test_greenapi_partner_token_is_optional(settings: SettingsWrapper) -> None:
    settings.GREENAPI_API_URL = "https://api.green-api.com"
    assert get_gateway("greenapi").config.api_key == getattr(settings, "GREENAPI_PARTNER_TOKEN", "")
