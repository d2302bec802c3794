"""Every provider of the registry has its normalizer module; unknown names fail loudly."""

from __future__ import annotations

import pytest

from providers.registry import PROVIDERS, UnknownProviderError
from webhooks.normalizers import get_normalizer, normalizer_class


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_each_provider_has_one_normalizer_in_its_own_module(name: str) -> None:
    found = normalizer_class(name)
    assert found.__module__ == f"webhooks.normalizers.{name}" and found.provider == name
    assert get_normalizer(name) is get_normalizer(name)


def test_an_unknown_provider_has_no_normalizer() -> None:
    with pytest.raises(UnknownProviderError):
        get_normalizer("waha")
