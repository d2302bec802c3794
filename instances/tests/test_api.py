"""The numbers API of API.md, against the sandbox."""

from __future__ import annotations

import pytest

from instances import services
from instances.models import Number

pytestmark = pytest.mark.django_db

FIELDS = {
    "id",
    "name",
    "purpose",
    "provider",
    "instance_name",
    "status",
    "status_reason",
    "phone_number",
    "profile_name",
    "send_rate_per_minute",
    "connected_at",
    "disconnected_at",
    "qr_updated_at",
    "created_at",
    "updated_at",
}


def test_create_answers_201_with_the_number_and_never_a_secret(api, sandbox):
    response = api.post(
        "/api/v1/numbers/",
        {"name": "Sales", "provider": "evolution", "purpose": "sales"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == FIELDS
    number = Number.objects.get(pk=body["id"])
    text = response.content.decode()
    for secret in (number.provider_token, number.webhook_token, number.webhook_secret):
        assert secret not in text
    assert body["status"] == "disconnected"


def test_a_greenapi_number_needs_its_console_id_and_token(api, sandbox):
    response = api.post("/api/v1/numbers/", {"name": "G", "provider": "greenapi"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {
        "greenapi_id_instance",
        "greenapi_api_token",
    }
    created = sandbox.create_greenapi_instance()
    response = api.post(
        "/api/v1/numbers/",
        {
            "name": "G",
            "provider": "greenapi",
            "greenapi_id_instance": str(created["idInstance"]),
            "greenapi_api_token": created["apiTokenInstance"],
        },
        format="json",
    )
    assert response.status_code == 201
    assert created["apiTokenInstance"] not in response.content.decode()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x", "provider": "whatsmeow"}, "provider"),
        ({"provider": "evolution"}, "name"),
        ({"name": "x", "provider": "evolution", "phone_number": "12ab"}, "phone_number"),
    ],
)
def test_bad_create_input_is_a_400_naming_the_field(api, sandbox, body, field):
    response = api.post("/api/v1/numbers/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_the_quota_is_a_409(api, sandbox, tenant):
    tenant.max_numbers = 1
    tenant.save()
    assert (
        api.post(
            "/api/v1/numbers/", {"name": "a", "provider": "evolution"}, format="json"
        ).status_code
        == 201
    )
    response = api.post("/api/v1/numbers/", {"name": "b", "provider": "evolution"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "quota_exceeded"


def test_connect_returns_a_qr_data_url_and_its_expiry(api, make_number):
    number = make_number()
    response = api.post(f"/api/v1/numbers/{number.pk}/connect/", {"method": "qr"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "qr_pending"
    assert body["qr_code"].startswith("data:image/png;base64,")
    assert body["pairing_code"] is None and body["expires_at"]


def test_connect_by_pairing_code_needs_a_valid_phone(api, make_number):
    number = make_number()
    url = f"/api/v1/numbers/{number.pk}/connect/"
    missing = api.post(url, {"method": "pairing_code"}, format="json")
    assert missing.status_code == 400 and "phone_number" in missing.json()["error"]["details"]
    bad = api.post(url, {"method": "pairing_code", "phone_number": "123"}, format="json")
    assert bad.status_code == 400 and "phone_number" in bad.json()["error"]["details"]
    wrong = api.post(url, {"method": "carrier_pigeon"}, format="json")
    assert wrong.status_code == 400 and "method" in wrong.json()["error"]["details"]
    ok = api.post(
        url, {"method": "pairing_code", "phone_number": "+55 11 98888-7777"}, format="json"
    )
    assert ok.status_code == 200 and len(ok.json()["pairing_code"]) == 8


def test_connect_on_a_connected_number_is_a_409(api, connected_number):
    response = api.post(f"/api/v1/numbers/{connected_number.pk}/connect/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_status_reads_our_database(api, connected_number, provider_calls):
    provider_calls.calls.clear()
    body = api.get(f"/api/v1/numbers/{connected_number.pk}/status/").json()
    assert provider_calls.calls == []
    assert set(body) == {
        "status",
        "reason",
        "qr_code",
        "pairing_code",
        "phone_number",
        "profile_name",
        "connected_at",
        "disconnected_at",
        "qr_updated_at",
        "last_update",
    }
    assert body["status"] == "connected" and body["qr_code"] is None


def test_disconnect_and_reconnect(api, connected_number):
    response = api.post(f"/api/v1/numbers/{connected_number.pk}/disconnect/")
    assert response.status_code == 200 and response.json()["status"] == "disconnected"
    response = api.post(f"/api/v1/numbers/{connected_number.pk}/reconnect/")
    assert response.status_code == 200
    assert response.json()["status"] in {"qr_pending", "connected"}


def test_patch_changes_only_the_editable_fields(api, make_number):
    number = make_number()
    response = api.patch(
        f"/api/v1/numbers/{number.pk}/",
        {"name": "Renamed", "send_rate_per_minute": 30, "status": "connected"},
        format="json",
    )
    assert response.status_code == 200
    number.refresh_from_db()
    assert (number.name, number.send_rate_per_minute, number.status) == (
        "Renamed",
        30,
        "disconnected",
    )
    too_fast = api.patch(
        f"/api/v1/numbers/{number.pk}/", {"send_rate_per_minute": 5000}, format="json"
    )
    assert (
        too_fast.status_code == 400
        and "send_rate_per_minute" in too_fast.json()["error"]["details"]
    )


def test_delete_is_a_204_and_the_number_is_gone(api, make_number):
    number = make_number()
    assert api.delete(f"/api/v1/numbers/{number.pk}/").status_code == 204
    assert api.get(f"/api/v1/numbers/{number.pk}/").status_code == 404
    assert not Number.objects.filter(pk=number.pk).exists()


def test_lists_filter_by_status_and_provider_newest_first(api, make_number, tenant):
    tenant.max_numbers = 10
    tenant.save()
    make_number("first")
    second = make_number("second")
    services.connect(second)
    body = api.get("/api/v1/numbers/").json()
    assert [n["name"] for n in body["results"]] == ["second", "first"]
    assert [n["name"] for n in api.get("/api/v1/numbers/?status=qr_pending").json()["results"]] == [
        "second"
    ]
    assert api.get("/api/v1/numbers/?provider=greenapi").json()["results"] == []
    assert api.get("/api/v1/numbers/?status=nonsense").status_code == 400


def test_another_tenants_number_is_a_404_everywhere(
    make_number, other_tenant, make_key, client_for
):
    number = make_number()
    outsider = client_for(make_key(other_tenant)[1])
    for method, path in [
        ("get", ""),
        ("get", "status/"),
        ("post", "connect/"),
        ("post", "disconnect/"),
        ("delete", ""),
        ("patch", ""),
    ]:
        response = getattr(outsider, method)(
            f"/api/v1/numbers/{number.pk}/{path}", {}, format="json"
        )
        assert response.status_code == 404, (method, path)
    assert outsider.get("/api/v1/numbers/").json()["results"] == []


def test_scopes_guard_reads_and_writes(make_number, tenant, make_key, client_for):
    number = make_number()
    reader = client_for(make_key(tenant, scopes=["numbers:read"])[1])
    assert reader.get(f"/api/v1/numbers/{number.pk}/status/").status_code == 200
    assert (
        reader.post(f"/api/v1/numbers/{number.pk}/connect/", {}, format="json").status_code == 403
    )
    sender = client_for(make_key(tenant, scopes=["messages:send"])[1])
    assert sender.get("/api/v1/numbers/").status_code == 403


def test_a_provider_outage_is_a_503_that_says_a_retry_can_help(api, make_number, sandbox):
    number = make_number()
    sandbox.faults(error_rate=1)
    response = api.post(f"/api/v1/numbers/{number.pk}/connect/", {}, format="json")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "provider_unavailable" and error["details"]["retryable"] is True
