"""Operators create API keys in the admin: shown once, stored only as a hash."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tenants.models import ApiKey, Tenant, hash_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client() -> Client:
    """A signed-in superuser."""
    get_user_model().objects.create_superuser("op", "op@example.com", "pw-op-123456")
    client = Client()
    client.login(username="op", password="pw-op-123456")
    return client


def test_a_key_created_in_the_admin_is_shown_once_and_stored_hashed(operator_client, tenant):
    response = operator_client.post(
        "/admin/tenants/apikey/add/",
        {
            "tenant": str(tenant.pk),
            "name": "CRM",
            "scopes": ["numbers:read", "messages:send"],
        },
        follow=True,
    )
    assert response.status_code == 200
    [message] = [str(m) for m in response.context["messages"] if "Copy it now" in str(m)]
    raw = message.rsplit(" ", 1)[-1]
    key = ApiKey.objects.get(tenant=tenant)
    assert key.key_hash == hash_key(raw) and raw not in key.key_hash
    assert key.scopes == ["numbers:read", "messages:send"]
    assert key.created_by is not None and key.created_by.username == "op"
    detail = operator_client.get(f"/admin/tenants/apikey/{key.pk}/change/").content.decode()
    assert key.prefix in detail and raw not in detail


def test_revoking_in_the_admin_makes_the_key_answer_401(
    operator_client, tenant, make_key, client_for
):
    key, raw = make_key(tenant)
    operator_client.post(
        "/admin/tenants/apikey/", {"action": "revoke", "_selected_action": [str(key.pk)]}
    )
    assert client_for(raw).get("/api/v1/api-keys/").status_code == 401


def test_a_tenant_created_without_a_slug_gets_one(operator_client):
    operator_client.post(
        "/admin/tenants/tenant/add/",
        {
            "name": "New Co",
            "slug": "",
            "is_active": "on",
            "max_numbers": "3",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert Tenant.objects.get(name="New Co").slug == "new-co"
