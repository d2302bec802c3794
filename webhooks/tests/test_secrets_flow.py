"""Over real HTTP: GreenAPI's queue never stalls on us; no instance token reaches the database."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import requests
from django.db import connection

from instances import services
from instances.models import Number
from messaging import media_tasks
from messaging.models import MediaFile, Message
from webhooks.models import WebhookEvent

from .flow import live_numbers, process_received, stored, wait_for

__all__ = ["live_numbers"]
pytestmark = pytest.mark.django_db(transaction=True)


def set_greenapi_token(sandbox: Any, number: Number, token: str) -> None:
    """Change the instance's webhookUrlToken at the provider (anyone with its API token can)."""
    url = (
        f"{sandbox.base_url}/waInstance{number.provider_instance_id}/setSettings/"
        f"{number.provider_token}"
    )
    assert requests.post(url, json={"webhookUrlToken": token}, timeout=5).json()["saveSettings"]


def test_greenapi_gets_200_for_a_wrong_authorization_and_nothing_is_applied(
    live_numbers: Any, sandbox: Any, caplog: Any
) -> None:
    number = services.connect(live_numbers("greenapi"))
    sandbox.scan("greenapi", number.provider_instance_id, phone="5511977776666")
    wait_for(stored(number, "stateInstanceChanged", ":authorized:"))
    process_received()
    set_greenapi_token(sandbox, number, "not-our-secret")
    sandbox.inbound(
        "greenapi", number.provider_instance_id, **{"from": "5511888888888", "text": "x"}
    )
    deliveries = lambda: sandbox.control(  # noqa: E731
        "GET", f"/webhooks?instance={number.provider_instance_id}&event=incomingMessageReceived"
    )["deliveries"]
    wait_for(lambda: bool(deliveries()) and deliveries()[0]["status"] == "delivered")
    [delivery] = deliveries()
    assert delivery["headers"]["Authorization"] == "Bearer not-our-secret"
    assert delivery["responses"] == [200] and delivery["attempts"] == 1  # GreenAPI's queue moves on
    assert not WebhookEvent.objects.filter(event_name="incomingMessageReceived").exists()
    assert not Message.objects.exists()
    assert "webhook refused" in caplog.text


def test_a_database_dump_after_the_flows_holds_no_instance_token(
    live_numbers: Any, sandbox: Any, api: Any
) -> None:
    sandbox.settings(evolution_expose_token=True)  # every Evolution body carries `apikey`
    evolution = services.connect(live_numbers("evolution"))
    green = services.connect(live_numbers("greenapi"))
    sandbox.scan("evolution", evolution.instance_name, phone="5511988887777")
    sandbox.scan("greenapi", green.provider_instance_id, phone="5511977776666")
    image = {"type": "image", "mimetype": "image/png"}
    sandbox.inbound(
        "evolution", evolution.instance_name, **{"from": "5511888888888", "media": image}
    )
    sandbox.inbound(
        "greenapi", green.provider_instance_id, **{"from": "5511888888888", "text": "hi"}
    )
    wait_for(stored(evolution, "messages.upsert"))
    wait_for(stored(green, "incomingMessageReceived"))
    process_received()
    for pending in MediaFile.objects.values_list("pk", flat=True):
        media_tasks.fetch_media(pending)
    assert MediaFile.objects.get().status == "stored"
    evolution.refresh_from_db()
    green.refresh_from_db()
    tokens = [evolution.provider_token, green.provider_token]
    assert all(len(token) > 20 for token in tokens)
    sent = sandbox.control("GET", "/webhooks?event=messages.upsert")["deliveries"][0]["body"]
    assert sent["apikey"] == evolution.provider_token
    upsert = WebhookEvent.objects.get(event_name="messages.upsert")
    assert "apikey" not in upsert.payload()  # it came with the token (checked below) and lost it
    db = connection.settings_dict
    dump = subprocess.run(
        ["pg_dump", "-h", db["HOST"] or "127.0.0.1", "-U", db["USER"], "--data-only", db["NAME"]],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    assert "5511888888888" in dump  # the dump holds the flow's data
    for token in tokens:
        assert token not in dump and token.lower() not in dump.lower()
