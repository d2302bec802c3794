"""While our database or Redis is down: the API answers 503 service_unavailable, pages a 503."""

from __future__ import annotations

from typing import Any

import pytest
from django import db
from django.contrib.sessions.backends.db import SessionStore
from django.db.backends.utils import CursorWrapper
from django.test import Client
from rest_framework.test import APIClient

from instances.models import Number
from messaging.models import Message

from .processes import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every query fails the way a restarting PostgreSQL fails it."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise db.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(CursorWrapper, "_execute", refuse)


def assert_service_unavailable(response: Any) -> None:
    """A 503 in the API envelope, with Retry-After."""
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"] and error["details"] == {"retry_after": int(response["Retry-After"])}


def assert_unavailable_page(response: Any) -> None:
    """A plain 503 page, with Retry-After."""
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    assert b"briefly unavailable" in response.content


def test_the_api_answers_503_while_its_redis_is_down_and_200_once_it_is_back(
    redis_server: RedisServer, settings: Any, api: APIClient, evolution_number: Number
) -> None:
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": redis_server.url}}
    settings.REDIS_URL = redis_server.url
    assert api.get("/api/v1/numbers/").status_code == 200

    redis_server.kill()
    assert_service_unavailable(api.get("/api/v1/numbers/"))
    send = {"number": evolution_number.pk, "to": "5511977770000", "type": "text", "text": "hi"}
    assert_service_unavailable(api.post("/api/v1/messages/", send, format="json"))
    assert not Message.objects.exists()  # refused, not half-accepted

    redis_server.start()
    assert api.get("/api/v1/numbers/").status_code == 200


def test_the_api_answers_503_while_the_database_is_down(
    api: APIClient, database_down: None
) -> None:
    assert_service_unavailable(api.get("/api/v1/numbers/"))


def test_a_page_answers_a_plain_503_while_the_database_is_down(
    member: Client, database_down: None
) -> None:
    assert_unavailable_page(member.get("/"))


@pytest.mark.urls("whatsapp_saas.tests.urls")
def test_a_failure_after_the_view_while_saving_the_session_is_a_503_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise db.OperationalError("could not connect to server")

    monkeypatch.setattr(SessionStore, "save", refuse)
    assert_unavailable_page(Client(raise_request_exception=False).get("/_test/touch-session/"))


@pytest.mark.urls("whatsapp_saas.tests.urls")
def test_a_bug_is_still_a_500_not_an_outage(api: APIClient) -> None:
    response = api.get("/api/v1/_test/broken/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
