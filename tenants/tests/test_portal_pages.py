"""Tenant login, logout and reach: a user sees only the tenants they are a member of."""

from __future__ import annotations

import pytest
from django.test import Client

from tenants.services import create_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(tenant, other_tenant):
    """Alice, owner of Acme only, signed in."""
    create_tenant("Initech", owner_email="alice@example.com", owner_password="pw-alice-123")
    client = Client()
    assert client.login(username="alice@example.com", password="pw-alice-123")
    return client


def test_pages_ask_for_a_login_first():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_with_the_right_password_reaches_the_users_only_tenant():
    create_tenant("Initech", owner_email="alice@example.com", owner_password="pw-alice-123")
    client = Client()
    response = client.post(
        "/login/", {"username": "alice@example.com", "password": "pw-alice-123"}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/t/initech/"
    assert b"Initech" in response.content


def test_login_with_a_wrong_password_says_so():
    create_tenant("Initech", owner_email="alice@example.com", owner_password="pw-alice-123")
    response = Client().post("/login/", {"username": "alice@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_a_user_gets_404_for_a_tenant_they_do_not_belong_to(alice_client, other_tenant):
    assert alice_client.get(f"/t/{other_tenant.slug}/").status_code == 404
    assert alice_client.get("/t/initech/").status_code == 200


def test_the_navigation_lists_only_the_users_tenants(alice_client):
    html = alice_client.get("/t/initech/").content.decode()
    assert "Initech" in html and "Globex" not in html and "Acme" not in html


def test_logout_ends_the_session(alice_client):
    response = alice_client.post("/logout/")
    assert response.status_code == 302
    assert alice_client.get("/t/initech/").status_code == 302
