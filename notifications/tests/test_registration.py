"""Registering an endpoint: only public https:// URLs, however the address is written."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from notifications.models import Endpoint

URL = "/api/v1/webhook-endpoints/"

INTERNAL = [
    "https://127.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://localhost/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://user:pw@127.0.0.1/hook",
    "https://2130706433/hook",
    "https://0x7f.1/hook",
    "https://10.0.0.5/hook",
    "https://[fd00::1]/hook",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_registration_refuses_internal_addresses_with_400_url_not_allowed(
    api: APIClient, url: str
) -> None:
    response = api.post(URL, {"url": url}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "url_not_allowed" and "url" in error["details"]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://example.com/hook", "ftp://example.com/", "example.com"])
def test_registration_refuses_anything_but_https(api: APIClient, url: str) -> None:
    response = api.post(URL, {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_not_allowed"


def test_a_public_https_url_is_registered_with_a_whsec_secret_shown_once(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whatsapp_saas import netguard

    monkeypatch.setattr(netguard, "system_resolver", lambda host, port: ["93.184.216.34"])
    created = api.post(URL, {"url": "https://hooks.example.com/in"}, format="json").json()
    assert created["secret"].startswith("whsec_") and created["url"].endswith("/in")
    assert created["event_types"] == [
        "message.status",
        "message.received",
        "message.updated",
        "number.status",
    ]
    listed = api.get(URL).content.decode()
    shown = api.get(f"{URL}{created['id']}/").content.decode()
    assert created["id"] in listed and created["id"] in shown
    assert created["secret"] not in listed + shown and "secret" not in listed + shown


def test_a_name_that_resolves_inside_our_network_is_refused(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whatsapp_saas import netguard

    monkeypatch.setattr(
        netguard, "system_resolver", lambda host, port: ["93.184.216.34", "10.1.2.3"]
    )
    response = api.post(URL, {"url": "https://rebind.example.com/"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "url_not_allowed"


def test_an_unknown_event_type_is_a_400_naming_the_field(api: APIClient) -> None:
    response = api.post(
        URL, {"url": "https://127.0.0.1/", "event_types": ["message.nope"]}, format="json"
    )
    assert response.status_code == 400
    assert "event_types" in response.json()["error"]["details"]


def test_an_endpoint_is_deleted_through_the_api_with_its_deliveries(
    api: APIClient, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notifications import services

    monkeypatch.setattr(
        "whatsapp_saas.netguard.system_resolver", lambda host, port: ["93.184.216.34"]
    )
    endpoint = services.register_endpoint(tenant, "https://hooks.example.com/in")
    services.ping(endpoint)
    assert api.delete(f"{URL}{endpoint.pk}/").status_code == 204
    assert not Endpoint.objects.exists()


def test_another_tenants_endpoint_is_not_found(
    other_tenant: Any, api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notifications import services

    monkeypatch.setattr(
        "whatsapp_saas.netguard.system_resolver", lambda host, port: ["93.184.216.34"]
    )
    theirs = services.register_endpoint(other_tenant, "https://hooks.example.com/in")
    assert api.get(f"{URL}{theirs.pk}/").status_code == 404
    assert api.delete(f"{URL}{theirs.pk}/").status_code == 404
    assert Endpoint.objects.filter(pk=theirs.pk).exists()


def test_the_admin_refuses_an_internal_url_too(operator: Any, tenant: Any) -> None:
    response = operator.post(
        "/admin/notifications/endpoint/add/",
        {
            "tenant": str(tenant.pk),
            "url": "https://[::ffff:127.0.0.1]/",
            "event_types": '["number.status"]',
            "is_active": "on",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "not a public address" in response.content.decode()
    assert not Endpoint.objects.exists()
