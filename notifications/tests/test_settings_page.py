"""The webhook endpoints page: owners add endpoints (secret shown once), test and delete them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from standardwebhooks import Webhook

from notifications import delivery
from notifications.models import Delivery, Endpoint
from sandbox.testing import WebhookReceiver

pytestmark = pytest.mark.django_db


def page_of(tenant: Any) -> str:
    """The settings page of the tenant's endpoints."""
    return f"/t/{tenant.slug}/settings/webhooks/"


def add(client: Any, tenant: Any, url: str, types: list[str] | None = None) -> Any:
    """Submit the add form."""
    types = types or ["message.received", "message.status"]
    return client.post(page_of(tenant), {"url": url, "event_types": types}, follow=True)


def test_an_endpoint_added_shows_its_secret_once_and_a_test_reaches_it_signed(
    owner: Any, tenant: Any, receiver: WebhookReceiver
) -> None:
    html = add(owner, tenant, receiver.url).content.decode()
    endpoint = Endpoint.objects.get(tenant=tenant)
    secret = html.split('id="new-secret-value">')[1].split("<")[0]
    assert secret == endpoint.secret and endpoint.event_types == [
        "message.status",
        "message.received",
    ]
    assert secret not in owner.get(page_of(tenant)).content.decode()
    owner.post(f"{page_of(tenant)}{endpoint.pk}/test/")
    ping = Delivery.objects.get(endpoint=endpoint)
    assert delivery.deliver(str(ping.pk)) == "delivered"
    sent = receiver.received[0]
    assert Webhook(secret).verify(sent.raw, dict(sent.headers))["type"] == "ping"
    row = owner.get(page_of(tenant)).content.decode().split(f'data-id="{ping.pk}"')[1]
    assert "delivered" in row.split("</tr>")[0] and "HTTP 200" in row.split("</tr>")[0]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/h",
        "https://u:p@1.1.1.1/",
    ],
)
def test_an_address_we_would_not_call_is_a_field_error_and_nothing_is_added(
    owner: Any, tenant: Any, url: str
) -> None:
    response = owner.post(page_of(tenant), {"url": url, "event_types": ["message.status"]})
    html = response.content.decode()
    assert response.status_code == 400 and 'id="url-error"' in html
    assert f'value="{url}"' in html
    assert not Endpoint.objects.exists()


def test_an_endpoint_needs_at_least_one_event(owner: Any, tenant: Any) -> None:
    response = owner.post(page_of(tenant), {"url": "https://example.com/hook"})
    assert response.status_code == 400 and not Endpoint.objects.exists()


def test_deleting_an_endpoint_removes_it_with_its_deliveries(
    owner: Any, tenant: Any, receiver: WebhookReceiver
) -> None:
    add(owner, tenant, receiver.url)
    endpoint = Endpoint.objects.get()
    owner.post(f"{page_of(tenant)}{endpoint.pk}/test/")
    response = owner.post(f"{page_of(tenant)}{endpoint.pk}/delete/", follow=True)
    assert "was deleted" in response.content.decode()
    assert not Endpoint.objects.exists() and not Delivery.objects.exists()


def test_members_cannot_see_add_test_or_delete_endpoints(
    member: Any, owner: Any, tenant: Any, receiver: WebhookReceiver
) -> None:
    add(owner, tenant, receiver.url)
    endpoint = Endpoint.objects.get()
    assert member.get(page_of(tenant)).status_code == 403
    assert add(member, tenant, receiver.url).status_code == 403
    assert member.post(f"{page_of(tenant)}{endpoint.pk}/test/").status_code == 403
    assert member.post(f"{page_of(tenant)}{endpoint.pk}/delete/").status_code == 403
    assert Endpoint.objects.count() == 1 and not Delivery.objects.exists()


def test_another_tenants_endpoint_cannot_be_tested_or_deleted(
    owner: Any, tenant: Any, other_tenant: Any
) -> None:
    theirs = Endpoint.objects.create(tenant=other_tenant, url="https://example.com/theirs")
    for action in ("test", "delete"):
        assert owner.post(f"{page_of(tenant)}{theirs.pk}/{action}/").status_code == 404
    assert Endpoint.objects.filter(pk=theirs.pk).exists() and not Delivery.objects.exists()
    assert "example.com/theirs" not in owner.get(page_of(tenant)).content.decode()


def test_a_failed_answer_shows_its_code(owner: Any, tenant: Any, receiver: WebhookReceiver) -> None:
    add(owner, tenant, receiver.url)
    endpoint = Endpoint.objects.get()
    owner.post(f"{page_of(tenant)}{endpoint.pk}/test/")
    receiver.respond_with(410)
    assert delivery.deliver(str(Delivery.objects.get().pk)) == "failed"
    html = owner.get(page_of(tenant)).content.decode()
    assert "HTTP 410" in html and "failed" in html
    assert json.loads(receiver.received[0].raw)["type"] == "ping"


def test_each_endpoint_shows_only_its_five_latest_deliveries(owner: Any, tenant: Any) -> None:
    first = Endpoint.objects.create(tenant=tenant, url="https://example.com/a")
    second = Endpoint.objects.create(tenant=tenant, url="https://example.com/b")
    for n in range(7):
        Delivery.objects.create(endpoint=first, event_type="ping", payload={}, attempts=n)
    Delivery.objects.create(endpoint=second, event_type="number.status", payload={})
    html = owner.get(page_of(tenant)).content.decode()
    shown_first = html.split(f'id="endpoint-{first.pk}"')[1].split("</article>")[0]
    assert shown_first.count("<tr data-id=") == 5 and '<td data-label="Tries">6</td>' in shown_first
    assert '<td data-label="Tries">0</td>' not in shown_first
    assert "number.status" in html.split(f'id="endpoint-{second.pk}"')[1].split("</article>")[0]
