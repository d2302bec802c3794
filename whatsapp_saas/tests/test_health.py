"""/healthz and /readyz."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_lives():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_database_and_redis_answer():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_naming_redis_when_redis_is_down(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("down:")


def test_openapi_schema_declares_the_bearer_scheme():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "API key",
    }
    assert "/api/v1/api-keys/" in schema["paths"]


def test_interactive_docs_load_their_assets_from_our_own_static_files():
    html = Client().get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg" not in html


def test_probes_answer_whatever_host_the_orchestrator_uses(settings):
    settings.ALLOWED_HOSTS = ["whatsapp.example.com"]
    assert Client().get("/healthz", HTTP_HOST="127.0.0.1:8000").status_code == 200
    assert Client().get("/readyz", HTTP_HOST="10.0.0.7").status_code == 200
    assert Client().get("/api/v1/api-keys/", HTTP_HOST="127.0.0.1").status_code == 400


def test_the_openapi_schema_generates_without_a_warning():
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null")
