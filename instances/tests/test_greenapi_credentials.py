"""A GreenAPI number's console credentials are checked before anything is created."""

from __future__ import annotations

import pytest

from instances import services
from instances.models import Number

pytestmark = pytest.mark.django_db


def body(created: dict, **changes: str) -> dict:
    return {
        "name": "Sales",
        "provider": "greenapi",
        "greenapi_id_instance": str(created["idInstance"]),
        "greenapi_api_token": created["apiTokenInstance"],
        **changes,
    }


def test_a_wrong_token_is_a_400_naming_both_fields_and_creates_nothing(api, sandbox, tenant):
    created = sandbox.create_greenapi_instance()
    response = api.post(
        "/api/v1/numbers/", body(created, greenapi_api_token="wrong-token"), format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]) == {"greenapi_id_instance", "greenapi_api_token"}
    assert "wrong-token" not in response.content.decode()
    assert not Number.objects.exists()


def test_an_unknown_instance_id_is_refused_the_same_way(api, sandbox):
    created = sandbox.create_greenapi_instance()
    response = api.post(
        "/api/v1/numbers/", body(created, greenapi_id_instance="1101999999"), format="json"
    )
    assert response.status_code == 400
    assert not Number.objects.exists()


def test_the_right_credentials_create_the_number(api, sandbox):
    created = sandbox.create_greenapi_instance()
    response = api.post("/api/v1/numbers/", body(created), format="json")
    assert response.status_code == 201, response.content
    assert Number.objects.get().provider_instance_id == str(created["idInstance"])


def test_a_provider_that_is_down_creates_nothing_and_says_so(api, sandbox, settings):
    created = sandbox.create_greenapi_instance()
    settings.GREENAPI_API_URL = "http://127.0.0.1:9"
    response = api.post("/api/v1/numbers/", body(created), format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert not Number.objects.exists()


def test_the_service_refuses_before_the_quota_slot_is_taken(sandbox, tenant):
    created = sandbox.create_greenapi_instance()
    with pytest.raises(services.InvalidCredentials) as refused:
        services.create_number(
            tenant,
            name="G",
            provider="greenapi",
            greenapi_id_instance=str(created["idInstance"]),
            greenapi_api_token="nope",
        )
    assert refused.value.fields == ("greenapi_id_instance", "greenapi_api_token")
    assert Number.objects.filter(tenant=tenant).count() == 0
