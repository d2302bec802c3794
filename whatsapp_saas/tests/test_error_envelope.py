"""Every error under /api/ leaves in one envelope: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tenants.throttling import ApiKeyRateThrottle

pytestmark = [pytest.mark.django_db, pytest.mark.urls("whatsapp_saas.tests.urls")]


def assert_envelope(response, status: int, code: str) -> dict:
    """The response has the status and an envelope with the code, a message and details."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert error["message"]
    return error


def test_invalid_input_is_a_400_naming_the_field(api):
    error = assert_envelope(
        api.post("/api/v1/_test/send/", {"to": "12"}, format="json"), 400, "validation_error"
    )
    assert list(error["details"]) == ["to"]


@pytest.mark.parametrize(
    "body",
    ["{not json", '{"to": NaN}', "[" * 1200 + "]" * 1200, '{"a":' * 65 + "1" + "}" * 65],
    ids=["not-json", "nan", "1200-deep", "65-deep"],
)
def test_malformed_or_deeply_nested_json_is_a_400_malformed_body(api, body):
    response = api.post("/api/v1/_test/send/", data=body, content_type="application/json")
    assert_envelope(response, 400, "malformed_body")


def test_json_nested_as_deep_as_allowed_is_parsed(api):
    body = '{"to": "12", "x":' + "[" * 62 + "]" * 62 + "}"
    response = api.post("/api/v1/_test/send/", data=body, content_type="application/json")
    assert_envelope(response, 400, "validation_error")


def test_a_missing_key_is_a_401():
    assert_envelope(APIClient().get("/api/v1/api-keys/"), 401, "not_authenticated")


def test_an_unknown_api_path_is_a_404_in_the_envelope(api):
    assert_envelope(api.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_an_unknown_object_is_a_404(api):
    assert_envelope(
        api.get("/api/v1/api-keys/00000000-0000-0000-0000-000000000000/"), 404, "not_found"
    )


def test_a_wrong_method_is_a_405(api):
    assert_envelope(api.delete("/api/v1/api-keys/"), 405, "method_not_allowed")


def test_a_body_over_the_limit_is_a_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"to": "' + "1" * 2000 + '"}'
    assert_envelope(
        api.post("/api/v1/_test/send/", data=body, content_type="application/json"),
        413,
        "payload_too_large",
    )


def test_throttling_is_a_429_with_retry_after(api, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    for _ in range(2):
        assert api.get("/api/v1/api-keys/").status_code == 200
    response = api.get("/api/v1/api-keys/")
    error = assert_envelope(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert error["details"]["retry_after"] == int(response["Retry-After"])


def test_throttling_counts_per_key_not_globally(tenant, make_key, client_for, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "1/min"})
    first, second = client_for(make_key(tenant)[1]), client_for(make_key(tenant)[1])
    assert first.get("/api/v1/api-keys/").status_code == 200
    assert first.get("/api/v1/api-keys/").status_code == 429
    assert second.get("/api/v1/api-keys/").status_code == 200


def test_an_unexpected_error_is_a_generic_500_without_detail(api, caplog):
    api.raise_request_exception = False
    response = api.get("/api/v1/_test/broken/")
    error = assert_envelope(response, 500, "server_error")
    assert "boom" not in response.content.decode()
    assert "super-secret" not in response.content.decode()
    assert error["details"] == {}
    assert any(r.levelname == "ERROR" and "unhandled" in r.getMessage() for r in caplog.records)
