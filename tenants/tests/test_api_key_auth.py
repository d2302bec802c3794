"""API keys: tenant isolation, 401 for bad keys, 403 for missing scopes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import ApiKey
from tenants.services import revoke_api_key

pytestmark = pytest.mark.django_db


def test_a_key_sees_its_own_tenants_keys_but_never_secrets(tenant, make_key, client_for):
    key, raw = make_key(tenant)
    response = client_for(raw).get("/api/v1/api-keys/")
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["results"]] == [str(key.id)]
    assert body["next"] is None
    assert raw not in response.content.decode()
    assert "key_hash" not in body["results"][0]


def test_a_key_of_tenant_a_gets_404_for_tenant_b_objects(
    tenant, other_tenant, make_key, client_for
):
    _, raw_a = make_key(tenant)
    key_b, _ = make_key(other_tenant)
    response = client_for(raw_a).get(f"/api/v1/api-keys/{key_b.id}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    listed = client_for(raw_a).get("/api/v1/api-keys/").json()["results"]
    assert str(key_b.id) not in {item["id"] for item in listed}


def test_a_missing_key_gets_401():
    response = APIClient().get("/api/v1/api-keys/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-key",
        "Bearer wa_deadbeef",
        "Token wa_x_y",
    ],
)
def test_a_malformed_authorization_header_gets_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/api-keys/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_key_with_a_wrong_secret_gets_401(tenant, make_key, client_for):
    key, raw = make_key(tenant)
    forged = raw[:-4] + ("aaaa" if not raw.endswith("aaaa") else "bbbb")
    assert client_for(forged).get("/api/v1/api-keys/").status_code == 401


def test_a_revoked_key_gets_401(tenant, make_key, client_for):
    key, raw = make_key(tenant)
    assert revoke_api_key(key)
    response = client_for(raw).get("/api/v1/api-keys/")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_revoking_again_keeps_the_first_revocation_and_spares_other_keys(
    tenant, make_key, client_for
):
    key, _ = make_key(tenant)
    _, other = make_key(tenant)
    revoke_api_key(key)
    first = ApiKey.objects.get(pk=key.pk).revoked_at
    assert not revoke_api_key(key)
    assert ApiKey.objects.get(pk=key.pk).revoked_at == first
    assert client_for(other).get("/api/v1/api-keys/").status_code == 200


def test_an_expired_key_gets_401_and_a_future_expiry_still_works(tenant, make_key, client_for):
    _, expired = make_key(tenant, expires_at=timezone.now() - timedelta(seconds=1))
    _, valid = make_key(tenant, expires_at=timezone.now() + timedelta(days=1))
    assert client_for(expired).get("/api/v1/api-keys/").status_code == 401
    assert client_for(valid).get("/api/v1/api-keys/").status_code == 200


def test_a_key_of_a_deactivated_tenant_gets_401(tenant, make_key, client_for):
    _, raw = make_key(tenant)
    tenant.is_active = False
    tenant.save()
    assert client_for(raw).get("/api/v1/api-keys/").status_code == 401


@pytest.mark.urls("whatsapp_saas.tests.urls")
def test_a_key_without_the_scope_gets_403_naming_it(tenant, make_key, client_for):
    _, raw = make_key(tenant, scopes=["messages:read"])
    response = client_for(raw).post("/api/v1/_test/send/", {"to": "5511999999999"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "messages:send" in response.json()["error"]["message"]


@pytest.mark.urls("whatsapp_saas.tests.urls")
def test_a_key_with_the_scope_passes(tenant, make_key, client_for):
    _, raw = make_key(tenant, scopes=["messages:send"])
    response = client_for(raw).post("/api/v1/_test/send/", {"to": "5511999999999"}, format="json")
    assert response.status_code == 202


def test_using_a_key_records_when_it_was_last_used(tenant, make_key, client_for):
    key, raw = make_key(tenant)
    assert key.last_used_at is None
    client_for(raw).get("/api/v1/api-keys/")
    key.refresh_from_db()
    assert key.last_used_at is not None
