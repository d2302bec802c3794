"""Outbound media URLs: a tenant can never point a provider at our network (API.md "Messages")."""

from __future__ import annotations

from typing import Any

import pytest

from messaging import wakeup
from messaging.models import Campaign, Message

pytestmark = pytest.mark.django_db

# The forms of issue 14's attack run, and a few more spellings of the same addresses.
INTERNAL = [
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:8081/a.png",
    "http://[::1]/a.png",
    "http://localhost/a.png",
    "http://2130706433/a.png",
    "http://0.0.0.0/a.png",
    "http://10.0.0.1/a.png",
    "http://0x7f.1/a.png",
    "http://[::ffff:169.254.169.254]/a.png",
    "https://cdn.example@127.0.0.1/a.png",
]
# A public address written literally: this machine has no DNS, and nothing fetches it in tests.
PUBLIC = "https://93.184.215.14/label.png"
SANDBOX_LIKE = "http://127.0.0.1:8199/media/label.png"


@pytest.fixture(autouse=True)
def nothing_internal_allowed(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.ALLOWED_INTERNAL_HOSTS = []
    monkeypatch.setattr(wakeup, "wake", lambda number_id, *args, **kwargs: 0)


def send(api: Any, number: Any, media_url: str) -> Any:
    body = {"number": str(number.pk), "to": "5511988881234", "type": "image"}
    return api.post("/api/v1/messages/", {**body, "media_url": media_url}, format="json")


def campaign(api: Any, number: Any, media_url: str) -> Any:
    body = {"number": str(number.pk), "name": "Launch", "type": "image", "media_url": media_url}
    return api.post("/api/v1/campaigns/", {**body, "recipients": ["5511988881234"]}, format="json")


def assert_refused(response: Any) -> None:
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "url_not_allowed"
    assert list(error["details"]) == ["media_url"]


@pytest.mark.parametrize("url", INTERNAL)
def test_an_internal_media_url_is_refused_when_sending(api, evolution_number, url):
    assert_refused(send(api, evolution_number, url))
    assert not Message.objects.exists()


@pytest.mark.parametrize("url", INTERNAL)
def test_an_internal_media_url_is_refused_for_a_campaign(api, evolution_number, url):
    assert_refused(campaign(api, evolution_number, url))
    assert not Campaign.objects.exists()


def test_a_public_media_url_is_accepted(api, evolution_number):
    assert send(api, evolution_number, PUBLIC).status_code == 202
    assert campaign(api, evolution_number, PUBLIC).status_code == 201
    assert Message.objects.get().media_url == PUBLIC


def test_an_internal_host_is_accepted_only_while_it_is_listed(api, evolution_number, settings):
    assert_refused(send(api, evolution_number, SANDBOX_LIKE))
    settings.ALLOWED_INTERNAL_HOSTS = ["127.0.0.1:8199"]
    assert send(api, evolution_number, SANDBOX_LIKE).status_code == 202
    assert_refused(send(api, evolution_number, "http://127.0.0.1:8200/media/label.png"))


def test_a_name_that_does_not_resolve_is_refused(api, evolution_number):
    assert_refused(send(api, evolution_number, "https://no-such-host.invalid/a.png"))


def test_other_field_errors_keep_the_generic_code(api, evolution_number):
    body = {"number": str(evolution_number.pk), "to": "12", "type": "image"}
    response = api.post(
        "/api/v1/messages/", {**body, "media_url": "http://10.0.0.1/a.png"}, format="json"
    )
    error = response.json()["error"]
    assert error["code"] == "validation_error" and {"to", "media_url"} <= set(error["details"])


def test_the_admin_campaign_form_refuses_an_internal_media_url(operator, tenant, evolution_number):
    html = operator.post(
        "/admin/messaging/campaign/add/",
        {
            "tenant": str(tenant.pk),
            "number": str(evolution_number.pk),
            "name": "Promo",
            "type": "image",
            "media_url": "http://169.254.169.254/latest/meta-data/",
            "delay_seconds": "2",
            "recipients_text": "5511988880001",
        },
    ).content.decode()
    assert "169.254.169.254 is not a public address." in html
    assert not Campaign.objects.exists()
