"""Provider test fixtures: contract error cases, breaker namespaces, recorded-host gateways."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import responses
from django.conf import settings

from providers.evolution import EvolutionGateway
from providers.greenapi import GreenApiGateway
from providers.tests import test_evolution as evo
from providers.tests import test_greenapi as green
from providers.types import ProviderConfig


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `error_case` from the test class's ERROR_BODY_CASES."""
    if "error_case" in metafunc.fixturenames:
        cases = list(getattr(metafunc.cls, "ERROR_BODY_CASES", ()))
        metafunc.parametrize("error_case", cases, ids=[case.id for case in cases])


@pytest.fixture
def breaker_namespace() -> Iterator[str]:
    """A Redis key namespace for one test's breakers, deleted afterwards."""
    from providers.http import get_redis

    namespace = f"test-breaker:{uuid.uuid4().hex}"
    yield namespace
    redis = get_redis(settings.REDIS_URL)
    for key in redis.scan_iter(f"{namespace}:*"):
        redis.delete(key)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """`responses` for one test; every registered response must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def evolution(breaker_namespace: str) -> EvolutionGateway:
    """An Evolution gateway on the recorded-response host (`responses` answers it)."""
    return EvolutionGateway(
        ProviderConfig(
            base_url=evo.BASE,
            api_key=evo.GLOBAL_KEY,
            breaker_namespace=breaker_namespace,
            redis_url=settings.REDIS_URL,
        )
    )


@pytest.fixture
def greenapi(breaker_namespace: str) -> GreenApiGateway:
    """A GreenAPI gateway on the recorded-response host (`responses` answers it)."""
    return GreenApiGateway(
        ProviderConfig(
            base_url=green.BASE,
            api_key=green.PARTNER,
            breaker_namespace=breaker_namespace,
            redis_url=settings.REDIS_URL,
        )
    )
