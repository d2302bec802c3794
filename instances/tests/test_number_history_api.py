"""GET /api/v1/numbers/{id}/events/: a number's connection history, newest first, per tenant."""

from __future__ import annotations

import pytest

from instances import services

pytestmark = pytest.mark.django_db


def test_the_history_lists_each_step_newest_first(api, make_number, sandbox):
    number = services.connect(make_number())
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    services.check_state(number)
    services.disconnect(number)
    body = api.get(f"/api/v1/numbers/{number.pk}/events/").json()
    steps = [(e["from"], e["to"], e["reason"], e["source"]) for e in body["results"]]
    assert steps == [
        ("connected", "disconnected", "operator", "api"),
        ("qr_pending", "connected", "scan_completed", "poll"),
        ("disconnected", "qr_pending", "waiting_scan", "api"),
        ("provisioning", "disconnected", "", "api"),
        ("", "provisioning", "", "api"),
    ]
    assert set(body["results"][0]) == {"from", "to", "reason", "source", "at"}
    assert body["next"] is None


def test_the_history_pages_with_a_cursor(api, make_number):
    number = make_number()
    page = api.get(f"/api/v1/numbers/{number.pk}/events/?limit=1").json()
    assert [e["to"] for e in page["results"]] == ["disconnected"]
    rest = api.get(page["next"]).json()
    assert [e["to"] for e in rest["results"]] == ["provisioning"]


def test_another_tenants_history_is_a_404(make_number, other_tenant, make_key, client_for):
    number = make_number()
    stranger = client_for(make_key(other_tenant)[1])
    assert stranger.get(f"/api/v1/numbers/{number.pk}/events/").status_code == 404


def test_the_history_needs_the_numbers_read_scope(make_number, tenant, make_key, client_for):
    number = make_number()
    sender = client_for(make_key(tenant, scopes=["messages:send"])[1])
    assert sender.get(f"/api/v1/numbers/{number.pk}/events/").status_code == 403
    reader = client_for(make_key(tenant, scopes=["numbers:read"])[1])
    assert reader.get(f"/api/v1/numbers/{number.pk}/events/").status_code == 200
