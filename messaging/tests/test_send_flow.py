"""End to end over real HTTP: API → the number's lane → the sandbox → receipts by webhook → API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from instances import services
from instances.models import Number
from messaging import tasks
from messaging.models import Message
from tenants.models import Tenant
from webhooks import tasks as webhook_tasks
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    """Poll until the condition holds (webhooks arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def process_stored_webhooks() -> None:
    """What the worker does with stored provider events: the real task, in arrival order."""
    for event_id in (
        WebhookEvent.objects.filter(status="received").order_by("id").values_list("pk", flat=True)
    ):
        webhook_tasks.process_webhook_event(event_id)


@pytest.fixture
def live_number(live_server: Any, sandbox: Any, settings: Any, tenant: Tenant) -> Iterator[Number]:
    """An Evolution number linked at the sandbox, whose webhooks reach our live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    sandbox.settings(receipt_delays="0.1,0.2,0.3")
    number = services.connect(services.create_number(tenant, name="Support", provider="evolution"))
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    wait_for(
        lambda: WebhookEvent.objects.filter(
            number=number, event_name="connection.update", dedupe_key__contains=":open:"
        ).exists()
    )
    process_stored_webhooks()
    number.refresh_from_db()
    assert number.status == "connected"
    yield number
    # Close the sandbox's keep-alive webhook connections: live-server threads free the database.
    sandbox.reset()
    asyncio.run_coroutine_threadsafe(sandbox.sandbox.webhooks.close(), sandbox.loop).result(5)


def test_a_text_and_an_image_sent_through_the_api_end_up_read(
    live_server, live_number, make_key, tenant, sandbox
):
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {make_key(tenant)[1]}"
    url = f"{live_server.url}/api/v1/messages/"
    bodies = [
        {"type": "text", "text": "Your order shipped"},
        {"type": "image", "media_url": f"{sandbox.base_url}/media/label.png", "caption": "Label"},
    ]
    ids = []
    for extra in bodies:
        response = http.post(
            url,
            json={"number": str(live_number.pk), "to": "+55 11 98888-1234", **extra},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    # What the wake-up of the number's lane does: both go out, in order, and the lane is idle.
    assert tasks.run_lane(str(live_number.pk)) == "idle"
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    wait_for(
        lambda: (
            WebhookEvent.objects.filter(
                number=live_number, event_name="messages.update", dedupe_key__endswith=":READ"
            ).count()
            == 2
        )
    )
    process_stored_webhooks()
    shown = [http.get(f"{url}{message_id}/", timeout=10).json() for message_id in ids]
    assert [(m["type"], m["status"]) for m in shown] == [("text", "read"), ("image", "read")]
    assert all(m["sent_at"] and m["delivered_at"] and m["read_at"] for m in shown)
    assert Message.objects.filter(direction="outbound").count() == 2


def test_a_send_whose_answer_was_lost_is_found_by_its_echo_webhook_and_never_sent_twice(
    live_server, live_number, make_key, tenant, sandbox
):
    from messaging import lanes

    from .fixtures import make_due, sent_at_provider

    # No history at the provider: only the send.message echo, over HTTP, can tell it went out.
    sandbox.settings(evolution_save_messages=False, auto_receipts=False)
    sandbox.faults(drop_response_rate=1, path_contains="/message/send", count=1)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {make_key(tenant)[1]}"
    response = http.post(
        f"{live_server.url}/api/v1/messages/",
        json={
            "number": str(live_number.pk),
            "to": "5511988881234",
            "type": "text",
            "text": "Code 4321",
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text
    message = Message.objects.get(pk=response.json()["id"])
    lanes.run(live_number.pk)  # the send is performed, its answer lost: the attempt stays open
    assert Message.objects.get(pk=message.pk).status == "queued"
    wait_for(lambda: WebhookEvent.objects.filter(event_name="send.message").exists())
    process_stored_webhooks()
    make_due(message)
    lanes.run(live_number.pk)
    message.refresh_from_db()
    at_provider = [m for m in sent_at_provider(sandbox) if m["text"] == "Code 4321"]
    assert len(at_provider) == 1
    assert (message.status, message.provider_message_id) == ("sent", at_provider[0]["id"])
