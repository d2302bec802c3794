"""The campaigns API: create with a recipient list, start, pause, cancel, follow progress."""

from __future__ import annotations

import pytest

from messaging.models import Campaign

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/"


def body(number, **extra):
    """A text campaign to two recipients."""
    return {
        "number": str(number.pk),
        "name": "Launch",
        "type": "text",
        "text": "Hello!",
        "recipients": ["+55 11 98888-0001", "5511988880002", "5511988880001"],
        **extra,
    }


def test_a_campaign_is_created_as_a_draft_with_its_recipients_cleaned(api, evolution_number):
    response = api.post(URL, body(evolution_number), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["recipients_count"]) == ("draft", 2)
    assert data["progress"]["not_queued"] == 2
    assert Campaign.objects.get().recipients == ["5511988880001", "5511988880002"]


def test_start_true_queues_every_recipient_at_once(api, evolution_number):
    data = api.post(URL, body(evolution_number, start=True), format="json").json()
    assert data["status"] == "running" and data["progress"]["queued"] == 2


def test_start_pause_and_cancel_actions(api, evolution_number):
    campaign_id = api.post(URL, body(evolution_number), format="json").json()["id"]
    assert api.post(f"{URL}{campaign_id}/start/").json()["status"] == "running"
    assert api.post(f"{URL}{campaign_id}/pause/").json()["status"] == "paused"
    cancelled = api.post(f"{URL}{campaign_id}/cancel/").json()
    assert cancelled["status"] == "cancelled" and cancelled["progress"]["failed"] == 2
    conflict = api.post(f"{URL}{campaign_id}/start/")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"recipients": ["12", "abc"]}, "recipients"),
        ({"recipients": []}, "recipients"),
        ({"type": "image", "text": ""}, "media_url"),
        ({"delay_seconds": -1}, "delay_seconds"),
        ({"number": "00000000-0000-0000-0000-000000000000"}, "number"),
    ],
)
def test_bad_campaigns_are_400s_naming_the_field(api, evolution_number, change, field):
    response = api.post(URL, {**body(evolution_number), **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_another_tenants_campaigns_are_invisible(
    api, evolution_number, other_tenant, make_key, client_for
):
    campaign_id = api.post(URL, body(evolution_number), format="json").json()["id"]
    outsider = client_for(make_key(other_tenant)[1])
    assert outsider.get(f"{URL}{campaign_id}/").status_code == 404
    assert outsider.post(f"{URL}{campaign_id}/start/").status_code == 404
    assert outsider.get(URL).json()["results"] == []


def test_reading_needs_messages_read_and_writing_messages_send(
    evolution_number, tenant, make_key, client_for
):
    reader = client_for(make_key(tenant, scopes=["messages:read"])[1])
    assert reader.get(URL).status_code == 200
    assert reader.post(URL, body(evolution_number), format="json").status_code == 403
