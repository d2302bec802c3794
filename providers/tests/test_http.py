"""Shared HTTP plumbing: one session per base URL, masked paths, breaker bookkeeping."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from django.conf import settings

from providers.errors import ProviderCircuitOpenError, ProviderProtocolError
from providers.http import ProviderHttpClient, get_breaker, get_session, mask_path
from providers.types import ProviderConfig


def test_one_session_per_base_url() -> None:
    first = get_session("http://a.test", "ua/1")
    assert get_session("http://a.test/", "ua/1") is first
    assert get_session("http://b.test", "ua/1") is not first
    assert first.headers["User-Agent"] == "ua/1"


@pytest.mark.parametrize(
    ("path", "secrets", "masked"),
    [
        ("/waInstance1101/qr/tok123", ("tok123",), "/waInstance1101/qr/****"),
        ("/instance/connect/acme?number=5511999999999", (), "/instance/connect/acme"),
        ("/partner/getInstances/ptok", ("ptok", ""), "/partner/getInstances/****"),
    ],
)
def test_paths_are_logged_without_secrets_or_query(
    path: str, secrets: tuple[str, ...], masked: str
) -> None:
    assert mask_path(path, secrets) == masked


def config(namespace: str, **overrides: Any) -> ProviderConfig:
    """A config on the test's breaker namespace."""
    return ProviderConfig(
        base_url="http://svc.test",
        breaker_namespace=namespace,
        redis_url=settings.REDIS_URL,
        **overrides,
    )


def test_breakers_are_per_provider_and_host(breaker_namespace: str) -> None:
    cfg = config(breaker_namespace)
    evolution = get_breaker("evolution", "http://svc.test", cfg)
    assert get_breaker("evolution", "http://svc.test", cfg) is evolution
    assert get_breaker("greenapi", "http://svc.test", cfg) is not evolution
    evolution._circuit().open()
    assert evolution.state == "open"
    assert get_breaker("greenapi", "http://svc.test", cfg).state == "closed"
    assert get_breaker("evolution", "http://other.test", cfg).state == "closed"


def test_an_open_breaker_says_when_to_retry(breaker_namespace: str) -> None:
    breaker = get_breaker("evolution", "http://svc.test", config(breaker_namespace))
    breaker._circuit().open()
    calls: list[int] = []
    with pytest.raises(ProviderCircuitOpenError) as caught:
        breaker.call(lambda: calls.append(1))
    assert calls == [] and 59 <= (caught.value.retry_after or 0) <= 60


def test_requests_still_flow_when_redis_is_down(rsps: responses.RequestsMock) -> None:
    rsps.get("http://svc.test/x", json={"ok": True})
    cfg = ProviderConfig(base_url="http://svc.test", redis_url="redis://127.0.0.1:1/0")
    client = ProviderHttpClient("evolution", cfg)
    assert client.call("GET", "http://svc.test", "/x") == {"ok": True}
    assert client.breaker("http://svc.test").state == "closed"


def test_a_2xx_that_is_not_json_is_a_protocol_error(
    breaker_namespace: str, rsps: responses.RequestsMock
) -> None:
    rsps.get("http://svc.test/x", body="<html>captive portal</html>", status=200)
    client = ProviderHttpClient("evolution", config(breaker_namespace))
    with pytest.raises(ProviderProtocolError) as caught:
        client.call("GET", "http://svc.test", "/x")
    assert not caught.value.retryable


def test_an_empty_2xx_body_is_none(breaker_namespace: str, rsps: responses.RequestsMock) -> None:
    rsps.delete("http://svc.test/x", status=204)
    client = ProviderHttpClient("evolution", config(breaker_namespace))
    assert client.call("DELETE", "http://svc.test", "/x") is None
