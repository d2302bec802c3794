"""Tenant pages for numbers: list, add, connect (also through a signed link)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client

from instances import services
from instances.models import Number
from instances.views import make_link

pytestmark = pytest.mark.django_db


def test_the_list_shows_the_tenants_numbers_with_their_status(member, make_number, tenant):
    number = make_number("Support line")
    html = member.get(f"/t/{tenant.slug}/numbers/").content.decode()
    assert "Support line" in html and "status-disconnected" in html
    data = member.get(f"/t/{tenant.slug}/numbers/?format=json").json()
    assert data["numbers"] == [
        {
            "id": str(number.pk),
            "status": "disconnected",
            "status_label": "Disconnected",
            "phone_number": "",
            "phone_display": "",
        }
    ]


def test_adding_a_number_provisions_it_and_opens_its_connect_page(owner, sandbox, tenant):
    response = owner.post(
        f"/t/{tenant.slug}/numbers/add/", {"name": "Sales", "provider": "evolution"}
    )
    number = Number.objects.get(name="Sales")
    assert response.status_code == 302 and response["Location"] == f"/numbers/{number.pk}/connect/"
    assert number.status == "disconnected"


def test_a_greenapi_number_without_its_credentials_is_refused_with_the_fields_named(owner, tenant):
    html = owner.post(
        f"/t/{tenant.slug}/numbers/add/", {"name": "G", "provider": "greenapi"}
    ).content.decode()
    assert html.count("Required for GreenAPI numbers.") == 2
    assert not Number.objects.exists()


def test_the_connect_page_shows_the_qr_after_asking_for_one(owner, make_number):
    number = make_number()
    page = f"/numbers/{number.pk}/connect/"
    assert 'id="qr-box" class="qr-box" hidden' in owner.get(page).content.decode()
    response = owner.post(f"{page}start/", {"method": "qr"}, follow=True)
    html = response.content.decode()
    number.refresh_from_db()
    assert number.qr_code and f'src="{number.qr_code}"' in html
    assert "Linked devices" in html
    state = owner.get(f"{page}state/").json()
    assert state["status"] == "qr_pending" and state["qr_code"] == number.qr_code


def test_the_pairing_code_switch_shows_an_eight_character_code(owner, make_number):
    number = make_number()
    owner.post(
        f"/numbers/{number.pk}/connect/start/",
        {"method": "pairing_code", "phone_number": "+55 11 98888-7777"},
    )
    state = owner.get(f"/numbers/{number.pk}/connect/state/").json()
    assert len(state["pairing_code"]) == 8


def test_a_bad_pairing_phone_is_explained(owner, make_number):
    number = make_number()
    response = owner.post(
        f"/numbers/{number.pk}/connect/start/",
        {"method": "pairing_code", "phone_number": "12"},
        follow=True,
    )
    assert "8 to 15 digits" in response.content.decode()


def test_another_tenants_number_is_a_404(member, make_number, other_tenant, sandbox):
    theirs = make_number(owner=other_tenant)
    assert member.get(f"/numbers/{theirs.pk}/connect/").status_code == 404
    assert member.get(f"/numbers/{theirs.pk}/connect/state/").status_code == 404
    assert member.post(f"/numbers/{theirs.pk}/connect/start/").status_code == 404
    assert member.get(f"/t/{other_tenant.slug}/numbers/").status_code == 404


def test_a_signed_link_opens_the_connect_page_without_an_account(make_number):
    number = make_number()
    link = make_link(number)
    anonymous = Client()
    assert anonymous.get(link).status_code == 200
    anonymous.post(f"{link}start/", {"method": "qr"})
    assert anonymous.get(f"{link}state/").json()["qr_code"].startswith("data:image/png")


def test_a_signed_link_dies_when_the_number_connects(make_number, sandbox):
    number = services.connect(make_number())
    link = make_link(number)
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    services.check_state(number)
    anonymous = Client()
    assert anonymous.get(f"{link}state/").json()["connected"] is True
    assert anonymous.get(link).status_code == 404
    assert anonymous.post(f"{link}start/").status_code == 404


def test_a_signed_link_dies_after_thirty_minutes(make_number, monkeypatch):
    number = make_number()
    link = make_link(number)
    later = time.time() + timedelta(minutes=31).total_seconds()
    monkeypatch.setattr(time, "time", lambda: later)
    assert Client().get(link).status_code == 404


def test_a_tampered_link_is_a_404(make_number):
    link = make_link(make_number())
    assert Client().get(link[:-3] + "xx/").status_code == 404
