"""A number's page: members see it, owners and admins act on it, every step lands in its history."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from instances import health, services
from instances.models import Number
from providers.events import ConnectionStatus as S

pytestmark = pytest.mark.django_db

ACTIONS = ("disconnect", "reconnect", "resume", "edit", "delete")


def test_the_page_shows_what_a_tenant_needs_to_know(member, connected_number):
    html = member.get(f"/numbers/{connected_number.pk}/").content.decode()
    for fact in ("+55 11 98888-7777", "Evolution API v2", connected_number.instance_name):
        assert fact in html
    assert "Waiting for scan → Connected" in html and "linked by a scan" in html


def test_a_member_sees_no_action_buttons_and_gets_403_posting_them(member, connected_number):
    html = member.get(f"/numbers/{connected_number.pk}/").content.decode()
    assert 'id="actions"' not in html and 'id="disconnect"' not in html
    for action in ACTIONS:
        response = member.post(f"/numbers/{connected_number.pk}/{action}/", {"name": "x"})
        assert response.status_code == 403, action
        assert "Not allowed" in response.content.decode()
    connected_number.refresh_from_db()
    assert connected_number.status == "connected" and connected_number.name == "Support"
    assert member.post(f"/numbers/{connected_number.pk}/connect/start/").status_code == 403


def test_an_owner_disconnects_and_reconnects_with_a_new_qr(owner, connected_number):
    page = f"/numbers/{connected_number.pk}/"
    assert 'id="disconnect"' in owner.get(page).content.decode()
    owner.post(f"{page}disconnect/")
    connected_number.refresh_from_db()
    assert connected_number.status == "disconnected"
    response = owner.post(f"{page}reconnect/")
    assert response["Location"] == f"{page}connect/"
    connected_number.refresh_from_db()
    assert connected_number.status == "qr_pending" and connected_number.qr_code
    html = owner.get(page).content.decode()
    assert "Connected → Disconnected" in html and "Disconnected → Waiting for scan" in html


def test_deleting_asks_first_then_frees_the_quota_slot(owner, tenant, make_number):
    tenant.max_numbers = 1
    tenant.save()
    number = make_number()
    html = owner.get(f"/t/{tenant.slug}/numbers/").content.decode()
    assert "All 1 number slots are used" in html
    confirm = owner.get(f"/numbers/{number.pk}/delete/")
    assert "cannot be undone" in confirm.content.decode()
    assert Number.objects.live().count() == 1
    owner.post(f"/numbers/{number.pk}/delete/")
    assert not Number.objects.exists()
    assert make_number("Second").status == "disconnected"


def test_rename_and_rate_keep_the_input_on_errors(owner, make_number):
    number = make_number()
    bad = owner.post(f"/numbers/{number.pk}/edit/", {"name": "Vendas", "send_rate_per_minute": "0"})
    assert bad.status_code == 400 and 'value="Vendas"' in bad.content.decode()
    owner.post(f"/numbers/{number.pk}/edit/", {"name": "Vendas", "send_rate_per_minute": "30"})
    number.refresh_from_db()
    assert (number.name, number.send_rate_per_minute) == ("Vendas", 30)


def test_a_paused_number_explains_itself_and_resumes(owner, connected_number, tenant):
    services.change_status(connected_number, S.PAUSED, "send_failures", "task")
    html = owner.get(f"/t/{tenant.slug}/numbers/").content.decode()
    assert "Support is paused" in html
    html = owner.get(f"/numbers/{connected_number.pk}/").content.decode()
    assert "too many messages failed in a row" in html and "Resume sending" in html
    owner.post(f"/numbers/{connected_number.pk}/resume/")
    connected_number.refresh_from_db()
    assert connected_number.status == "connected"


def test_a_banned_number_links_to_whatsapps_review_request(member, connected_number):
    services.change_status(connected_number, S.BANNED, "forbidden", "webhook")
    html = member.get(f"/numbers/{connected_number.pk}/").content.decode()
    assert "Request a review" in html and "faq.whatsapp.com" in html
    assert "was banned by WhatsApp" in html


def test_a_provider_down_shows_on_every_page_of_an_affected_tenant(member, tenant, make_number):
    make_number()
    cache.set(
        health.CACHE_KEY,
        {"providers": {"evolution": {"reachable": False, "response_time_ms": 0}}},
    )
    for page in (f"/t/{tenant.slug}/", f"/t/{tenant.slug}/numbers/", f"/t/{tenant.slug}/inbox/"):
        assert "Evolution API v2 is temporarily unavailable" in member.get(page).content.decode()


def test_a_tenant_without_numbers_there_sees_no_provider_banner(member, tenant):
    cache.set(
        health.CACHE_KEY,
        {"providers": {"evolution": {"reachable": False, "response_time_ms": 0}}},
    )
    assert "temporarily unavailable" not in member.get(f"/t/{tenant.slug}/").content.decode()


def test_a_wrong_greenapi_token_is_shown_on_the_fields_and_keeps_the_input(owner, tenant, sandbox):
    created = sandbox.create_greenapi_instance()
    response = owner.post(
        f"/t/{tenant.slug}/numbers/add/",
        {
            "name": "Vendas",
            "provider": "greenapi",
            "greenapi_id_instance": str(created["idInstance"]),
            "greenapi_api_token": "wrong",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert html.count("The provider rejected these credentials") == 2
    assert 'value="Vendas"' in html and f'value="{created["idInstance"]}"' in html
    assert not Number.objects.exists()


def test_the_last_send_failures_are_listed_with_their_error(member, connected_number):
    from django.utils import timezone

    from messaging.models import SendAttempt
    from messaging.outbox import queue_message

    message = queue_message(connected_number, to="5511977770000", type="text", text="x")
    SendAttempt.objects.create(
        message=message,
        started_at=timezone.now(),
        outcome="retry",
        provider_status_code=503,
        error_code="provider_unavailable",
        error_message="evolution HTTP 503",
    )
    html = member.get(f"/numbers/{connected_number.pk}/").content.decode()
    assert "+55 11 97777-0000" in html and "provider_unavailable: evolution HTTP 503" in html
