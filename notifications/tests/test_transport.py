"""A delivery connects to the address the guard checked, speaking TLS for the URL's own name."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
import urllib3.connection
import urllib3.util.connection

from notifications import transport
from sandbox.testing import WebhookReceiver
from whatsapp_saas import netguard

NAME = "hooks.example.test"
PUBLIC = "93.184.216.34"


@pytest.fixture
def ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture
def tls_receiver(ca: trustme.CA, settings: Any, tmp_path: Any) -> Iterator[tuple[Any, list]]:
    """An HTTPS receiver on 127.0.0.1 with a certificate for NAME only; records SNI names seen."""
    seen: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(NAME).configure_cert(context)
    context.sni_callback = lambda sock, name, ctx: seen.append(name)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    settings.OUTBOUND_WEBHOOKS_CA_BUNDLE = str(bundle)
    settings.ALLOWED_INTERNAL_HOSTS = []
    with WebhookReceiver(tls=context, host=NAME) as server:
        yield server, seen


@pytest.fixture
def pinned_dns(monkeypatch: pytest.MonkeyPatch, tls_receiver: tuple[Any, list]) -> list[Any]:
    """NAME resolves public once, then to 127.0.0.1 (rebinding); connections go to the receiver."""
    server, _ = tls_receiver
    # If urllib3 stopped connecting through this function, the patch below would not hold.
    assert urllib3.connection.connection is urllib3.util.connection
    answers = iter([[PUBLIC]])
    monkeypatch.setattr(
        netguard, "system_resolver", lambda host, port: next(answers, ["127.0.0.1"])
    )
    asked: list[Any] = []
    real = urllib3.util.connection.create_connection

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        asked.append(address)
        return real(("127.0.0.1", server.port), *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", connect)
    return asked


def test_the_connection_goes_to_the_checked_address_with_the_names_host_sni_and_certificate(
    tls_receiver: tuple[Any, list], pinned_dns: list[Any]
) -> None:
    server, sni = tls_receiver
    answer = transport.post(f"https://{NAME}:{server.port}/hook?x=1", b"{}", {"X-Test": "1"})
    assert answer.status == 200 and answer.address == PUBLIC
    assert pinned_dns == [(PUBLIC, server.port)]
    [request] = server.received
    assert request.headers["Host"] == f"{NAME}:{server.port}" and request.path == "/hook?x=1"
    assert sni == [NAME]


def test_a_certificate_for_another_name_is_refused(
    tls_receiver: tuple[Any, list], pinned_dns: list[Any], ca: trustme.CA, settings: Any
) -> None:
    server, _ = tls_receiver
    with pytest.raises(transport.Unreachable):
        transport.post(f"https://other.example.test:{server.port}/hook", b"{}", {})
    assert server.received == []


def test_an_untrusted_certificate_is_refused(
    tls_receiver: tuple[Any, list], pinned_dns: list[Any], settings: Any, tmp_path: Any
) -> None:
    server, _ = tls_receiver
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    settings.OUTBOUND_WEBHOOKS_CA_BUNDLE = str(other)
    with pytest.raises(transport.Unreachable):
        transport.post(f"https://{NAME}:{server.port}/hook", b"{}", {})
    assert server.received == []


def test_redirects_are_not_followed() -> None:
    with WebhookReceiver() as server:
        server.respond_with(307)
        from django.test import override_settings

        with override_settings(ALLOWED_INTERNAL_HOSTS=[f"127.0.0.1:{server.port}"]):
            answer = transport.post(server.url, b"{}", {})
    assert answer.status == 307 and len(server.received) == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), ("", None), ("soon", None), ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0)],
)
def test_retry_after_is_read_as_seconds_or_a_date(value: str, seconds: float | None) -> None:
    assert transport.retry_after(value) == seconds
