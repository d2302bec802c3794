"""The API keys page: owners and admins create keys (shown once) and revoke them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tenants.models import ApiKey

pytestmark = pytest.mark.django_db


def test_a_key_is_shown_once_works_and_stops_working_when_revoked(owner, tenant):
    page = f"/t/{tenant.slug}/settings/keys/"
    response = owner.post(page, {"name": "CRM", "scopes": ["numbers:read"]}, follow=True)
    html = response.content.decode()
    key = ApiKey.objects.get(name="CRM")
    raw = html.split('id="new-key-value">')[1].split("<")[0]
    assert raw.startswith(f"wa_{key.prefix}_") and key.scopes == ["numbers:read"]
    assert raw not in owner.get(page).content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/numbers/").status_code == 200
    assert "never" not in owner.get(page).content.decode().split(key.name)[1].split("</tr>")[0]
    owner.post(f"{page}{key.pk}/revoke/")
    assert api.get("/api/v1/numbers/").status_code == 401
    assert "revoked" in owner.get(page).content.decode()


def test_a_key_needs_a_name_and_a_scope(owner, tenant):
    response = owner.post(f"/t/{tenant.slug}/settings/keys/", {"name": "CRM"})
    assert response.status_code == 400 and 'value="CRM"' in response.content.decode()
    assert not ApiKey.objects.exists()


def test_members_cannot_reach_the_settings(member, tenant, make_key):
    key, _ = make_key(tenant)
    assert member.get(f"/t/{tenant.slug}/settings/keys/").status_code == 403
    assert member.post(f"/t/{tenant.slug}/settings/keys/{key.pk}/revoke/").status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_another_tenants_key_cannot_be_revoked(owner, other_tenant, tenant, make_key):
    key, _ = make_key(other_tenant)
    assert owner.post(f"/t/{tenant.slug}/settings/keys/{key.pk}/revoke/").status_code == 404
