"""Fixtures for number tests: numbers provisioned at the sandbox, request counting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from instances import services
from instances.models import Number
from tenants.models import Tenant


@pytest.fixture
def make_number(sandbox: Any, tenant: Tenant) -> Callable[..., Number]:
    """Create a number through the service (so it exists at the sandbox too)."""

    def make(
        name: str = "Support",
        provider: str = "evolution",
        owner: Tenant | None = None,
        **kwargs: Any,
    ) -> Number:
        if provider == "greenapi" and "greenapi_id_instance" not in kwargs:
            created = sandbox.create_greenapi_instance()
            kwargs.update(
                greenapi_id_instance=str(created["idInstance"]),
                greenapi_api_token=created["apiTokenInstance"],
            )
        return services.create_number(owner or tenant, name=name, provider=provider, **kwargs)

    return make


@pytest.fixture
def connected_number(make_number: Callable[..., Number], sandbox: Any) -> Number:
    """An Evolution number linked to +55 11 98888-7777."""
    number = services.connect(make_number())
    sandbox.scan(
        "evolution", number.instance_name, phone="5511988887777", profileName="Acme Support"
    )
    return services.check_state(number)


class HttpCounter:
    """Counts HTTP requests leaving this process through requests."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []


@pytest.fixture
def provider_calls(monkeypatch: pytest.MonkeyPatch) -> HttpCounter:
    """Every request a gateway sends, counted (method, url)."""
    counter, original = HttpCounter(), requests.Session.request

    def counting(
        session: requests.Session, method: str, url: str, *args: Any, **kwargs: Any
    ) -> Any:
        counter.calls.append((method, url))
        return original(session, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", counting)
    return counter
