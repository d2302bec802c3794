"""The create_tenant and create_api_key commands, as API.md states them."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tenants.models import ApiKey, Membership, Tenant

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    """Run a command; return its standard output."""
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_tenant_prints_the_new_tenants_id_with_its_owner():
    out = run(
        "create_tenant",
        "Acme Corp",
        "--owner-email",
        "o@acme.test",
        "--owner-password",
        "pw-1234567",
    )
    tenant = Tenant.objects.get(id=out.strip())
    assert tenant.slug == "acme-corp"
    membership = Membership.objects.get(tenant=tenant)
    assert membership.role == "owner" and membership.user.check_password("pw-1234567")


def test_two_tenants_with_the_same_name_get_distinct_slugs():
    first = Tenant.objects.get(id=run("create_tenant", "Acme").strip())
    second = Tenant.objects.get(id=run("create_tenant", "Acme").strip())
    assert first.slug == "acme" and second.slug == "acme-2"


def test_create_api_key_prints_a_working_key_alone_on_its_last_line():
    tenant_id = run("create_tenant", "Acme").strip()
    out = run("create_api_key", "acme", "--name", "ci", "--scopes", "numbers:read,messages:send")
    raw = out.strip().splitlines()[-1]
    key = ApiKey.objects.get(tenant_id=tenant_id)
    assert key.scopes == ["numbers:read", "messages:send"]
    assert raw not in (key.key_hash, key.prefix) and raw.startswith(f"wa_{key.prefix}_")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/api-keys/").status_code == 200


def test_create_api_key_accepts_the_tenant_id_too():
    tenant_id = run("create_tenant", "Acme").strip()
    run("create_api_key", tenant_id, "--name", "ci", "--scopes", "messages:read")
    assert ApiKey.objects.filter(tenant_id=tenant_id).count() == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope", "--name", "x", "--scopes", "messages:read"], "No tenant"),
        (["acme", "--name", "x", "--scopes", "messages:fly"], "Unknown or missing scopes"),
    ],
)
def test_create_api_key_explains_bad_input(args, message):
    run("create_tenant", "Acme")
    with pytest.raises(CommandError, match=message):
        run("create_api_key", *args)
