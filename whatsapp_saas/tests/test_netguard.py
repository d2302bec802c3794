"""The address guard: internal addresses are refused however they are written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from whatsapp_saas.netguard import URLNotAllowed, check_url

INTERNAL = [
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:8081/x.png",
    "http://[::1]/x.png",
    "http://localhost/x.png",
    "http://2130706433/x.png",
    "http://0x7f000001/x.png",
    "http://0177.0.0.1/x.png",
    "http://0x7f.1/x.png",
    "http://127.1/x.png",
    "http://0.0.0.0/x.png",
    "http://0/x.png",
    "http://10.0.0.1/x.png",
    "http://172.16.0.5/x.png",
    "http://192.168.1.1/x.png",
    "http://100.64.0.1/x.png",
    "http://[::ffff:127.0.0.1]/x.png",
    "http://[::ffff:7f00:1]/x.png",
    "http://[::127.0.0.1]/x.png",
    "http://[fe80::1%25eth0]/x.png",
    "http://[fc00::1]/x.png",
    "http://[2002:7f00:1::]/x.png",
    "http://[64:ff9b::a9fe:a9fe]/x.png",
    "http://224.0.0.1/x.png",
    "http://255.255.255.255/x.png",
    "https://user:pw@127.0.0.1/x.png",
    "https://evil.example@127.0.0.1/x.png",
    "http://127.0.0.1\\@example.com/x.png",
    "http://LOCALHOST./x.png",
]


@pytest.fixture(autouse=True)
def nothing_allowed(settings: Any) -> None:
    settings.ALLOWED_INTERNAL_HOSTS = []


def fake_dns(answers: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return resolve


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_however_written(url: str) -> None:
    with pytest.raises(URLNotAllowed):
        check_url(url, resolver=fake_dns({"localhost": ["127.0.0.1", "::1"]}))


def test_a_public_address_passes_with_the_addresses_it_was_checked_against() -> None:
    checked = check_url("https://93.184.216.34:8443/media/a.jpg?x=1")
    assert (checked.host, checked.port, checked.addresses) == (
        "93.184.216.34",
        8443,
        ("93.184.216.34",),
    )


def test_a_name_passes_only_if_every_address_it_resolves_to_is_public() -> None:
    dns = fake_dns(
        {"cdn.example": ["93.184.216.34"], "mixed.example": ["93.184.216.34", "10.1.2.3"]}
    )
    assert check_url("https://cdn.example/a.jpg", resolver=dns).addresses == ("93.184.216.34",)
    with pytest.raises(URLNotAllowed, match="not a public address"):
        check_url("https://mixed.example/a.jpg", resolver=dns)


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(URLNotAllowed, match="cannot be resolved"):
        check_url("https://nowhere.example/a.jpg", resolver=fake_dns({}))


@pytest.mark.parametrize(
    "url", ["ftp://93.184.216.34/a", "file:///etc/passwd", "gopher://x", "", "93.184.216.34/a"]
)
def test_only_http_and_https_are_accepted(url: str) -> None:
    with pytest.raises(URLNotAllowed):
        check_url(url)


def test_https_only_refuses_plain_http_to_a_public_host() -> None:
    with pytest.raises(URLNotAllowed, match="https://"):
        check_url("http://93.184.216.34/hook", https_only=True)


def test_an_internal_host_is_accepted_only_when_listed(settings: Any) -> None:
    settings.ALLOWED_INTERNAL_HOSTS = ["127.0.0.1:8081", "[::1]"]
    assert check_url("http://127.0.0.1:8081/x.png", https_only=True).host == "127.0.0.1"
    assert check_url("http://[::1]:9000/x.png").host == "::1"
    for url in ["http://127.0.0.1:8082/x.png", "http://2130706433:8081/x.png"]:
        with pytest.raises(URLNotAllowed):
            check_url(url)


@pytest.mark.parametrize("value", [None, 7, ["https://93.184.216.34/"], "https://x/" + "a" * 3000])
def test_a_value_that_is_not_a_short_string_is_refused(value: object) -> None:
    with pytest.raises(URLNotAllowed):
        check_url(value)


def test_a_bad_port_is_refused() -> None:
    for url in [
        "http://93.184.216.34:0/",
        "http://93.184.216.34:99999/",
        "http://93.184.216.34:²/",
    ]:
        with pytest.raises(URLNotAllowed, match="port"):
            check_url(url)
