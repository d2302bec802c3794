"""Stored provider bodies carry no credentials; the dedupe key still sees the body as received."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webhooks.models import WebhookEvent
from webhooks.scrub import without_secrets

pytestmark = pytest.mark.django_db


def test_an_evolution_body_is_stored_without_its_apikey_and_a_retry_still_collapses(
    deliver: Any, evolution_number: Any, fixture_for: Any
) -> None:
    payload = fixture_for(evolution_number, "messages_upsert__text") | {"apikey": "INSTANCE-TOKEN"}
    assert deliver(evolution_number, payload).status_code == 200
    assert deliver(evolution_number, payload).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.duplicates == 1
    assert b"INSTANCE-TOKEN" not in bytes(event.body) and "apikey" not in event.payload()
    assert event.payload()["data"] == payload["data"]


def test_a_body_without_secrets_is_kept_byte_for_byte(
    deliver: Any, greenapi_number: Any, fixture_for: Any
) -> None:
    body = json.dumps(fixture_for(greenapi_number, "incomingMessageReceived__text"), indent=3)
    assert deliver(greenapi_number, body.encode()).status_code == 200
    assert bytes(WebhookEvent.objects.get().body) == body.encode()


def test_secrets_are_removed_at_any_depth() -> None:
    cleaned, found = without_secrets(
        {"a": [{"token": "t", "keep": 1}], "b": {"hash": "h", "api_key": "k"}, "c": "x"}
    )
    assert found and cleaned == {"a": [{"keep": 1}], "b": {}, "c": "x"}
    assert without_secrets({"a": [1, {"b": None}]}) == ({"a": [1, {"b": None}]}, False)
    assert without_secrets({"apikey": None, "token": ""}) == ({"apikey": None, "token": ""}, False)
