"""Sign-in lockout: ten wrong passwords lock an account for that address, on both login pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

PAGES = {"tenant": "/login/", "admin": "/admin/login/"}
ATTACKER, OTHER = "203.0.113.7", "198.51.100.9"
PASSWORD = "right-horse-battery-9"


@pytest.fixture(params=list(PAGES))
def page(request):
    """A login page and its user (a staff member for the admin)."""
    staff = request.param == "admin"
    user = get_user_model().objects.create_user(
        "ana@acme.test", "ana@acme.test", PASSWORD, is_staff=staff, is_superuser=staff
    )
    return PAGES[request.param], user


def sign_in(client: Client, url: str, password: str, address: str = ATTACKER):
    return client.post(
        url, {"username": "ana@acme.test", "password": password}, REMOTE_ADDR=address
    )


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def lock(url: str) -> Client:
    """Ten wrong passwords from the attacker's address; the tenth answers with the lock page."""
    client = Client()
    answers = [sign_in(client, url, f"wrong-{i}") for i in range(10)]
    assert [a.status_code for a in answers] == [200] * 9 + [429]
    return client


def test_ten_wrong_passwords_lock_the_account_and_the_right_one_is_refused(page):
    url, _ = page
    client = lock(url)
    refused = sign_in(client, url, PASSWORD)
    assert refused.status_code == 429 and not signed_in(client)
    html = refused.content.decode()
    assert "Sign-in locked" in html and "ana@acme.test" in html and "15 minutes" in html


def test_the_lock_holds_for_that_address_only(page):
    url, _ = page
    lock(url)
    client = Client()
    assert sign_in(client, url, PASSWORD, address=OTHER).status_code == 302
    assert signed_in(client)


def test_the_lock_ends_when_its_time_is_up(page):
    url, _ = page
    client = lock(url)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert sign_in(client, url, PASSWORD).status_code == 302 and signed_in(client)


def test_an_operator_lifts_the_lock_in_the_admin(page, operator):
    url, _ = page
    client = lock(url)
    attempt = AccessAttempt.objects.get(username="ana@acme.test", ip_address=ATTACKER)
    listing = operator.get("/admin/axes/accessattempt/").content.decode()
    assert "ana@acme.test" in listing
    operator.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, url, PASSWORD).status_code == 302 and signed_in(client)


def test_nine_wrong_passwords_then_the_right_one_signs_in_and_resets_the_count(page):
    url, _ = page
    client = Client()
    for i in range(9):
        sign_in(client, url, f"wrong-{i}")
    assert sign_in(client, url, PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(failures_since_start__gt=0).exists()


def test_behind_a_proxy_the_address_it_saw_is_the_one_locked(page, settings):
    url, _ = page
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client()
    for i in range(10):
        # The client's own X-Forwarded-For entries come first; the proxy appends what it saw.
        client.post(
            url,
            {"username": "ana@acme.test", "password": f"wrong-{i}"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, {ATTACKER}",
        )
    assert AccessAttempt.objects.get().ip_address == ATTACKER
    other = Client().post(
        url,
        {"username": "ana@acme.test", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=OTHER,
    )
    assert other.status_code == 302
