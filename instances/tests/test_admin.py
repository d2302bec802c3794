"""Operators run numbers from the admin."""

from __future__ import annotations

import pytest
from django.test import Client

from instances import health, services
from instances.models import Number

pytestmark = pytest.mark.django_db


def act(operator: Client, action: str, number: Number) -> str:
    """Run an admin action on one number; return the page it leads to."""
    return operator.post(
        "/admin/instances/number/",
        {"action": action, "_selected_action": [str(number.pk)]},
        follow=True,
    ).content.decode()


def test_the_list_filters_by_status_and_shows_it_coloured(operator, make_number):
    make_number("alpha")
    html = operator.get("/admin/instances/number/?status__exact=disconnected").content.decode()
    assert "alpha" in html and 'style="color:#666"' in html
    assert (
        "alpha"
        not in operator.get("/admin/instances/number/?status__exact=connected").content.decode()
    )


def test_the_change_page_shows_the_live_qr_while_pending_and_the_history(operator, make_number):
    number = services.connect(make_number())
    html = operator.get(f"/admin/instances/number/{number.pk}/change/").content.decode()
    assert f'src="{number.qr_code}"' in html
    assert "/connect/" in html
    assert "qr_pending" in html and "waiting_scan" in html
    assert number.webhook_secret not in html and number.provider_token not in html


def test_connect_disconnect_and_delete_actions(operator, make_number, sandbox):
    number = make_number()
    assert "Connect started: 1" in act(operator, "connect", number)
    number.refresh_from_db()
    assert number.status == "qr_pending"
    assert number.connection_events.filter(source="operator").exists()
    act(operator, "disconnect", number)
    number.refresh_from_db()
    assert number.status == "disconnected"
    act(operator, "delete_completely", number)
    assert not Number.objects.filter(pk=number.pk).exists()


def test_an_action_that_fails_says_why(operator, connected_number):
    html = act(operator, "connect", connected_number)
    assert "already connected" in html


def test_the_health_page_shows_providers_and_counts(operator, make_number, sandbox):
    make_number()
    health.check_providers()
    html = operator.get("/admin/instances/number/health/").content.decode()
    assert "evolution" in html and "greenapi" in html
    assert "disconnected" in html
