"""End to end over real HTTP: the sandbox provider posts webhooks to our live server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from instances import services
from instances.models import Number
from messaging.models import Conversation, Message
from providers.registry import get_gateway
from providers.types import TextMessage
from tenants.models import Tenant
from webhooks import tasks
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Poll until the condition holds (webhooks arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            names = list(WebhookEvent.objects.values_list("event_name", "status"))
            raise AssertionError(f"timed out; events so far: {names}")
        time.sleep(0.05)


def stored(number: Number, name: str, key_part: str = "", count: int = 1) -> Callable[[], bool]:
    """A condition: `count` events of that name (with that in their dedupe key) were stored."""
    return lambda: (
        WebhookEvent.objects.filter(
            number=number, event_name=name, dedupe_key__contains=key_part
        ).count()
        >= count
    )


def process_received() -> None:
    """What the worker does: the real task, for every stored event, in arrival order."""
    for event_id in (
        WebhookEvent.objects.filter(status="received").order_by("id").values_list("pk", flat=True)
    ):
        tasks.process_webhook_event(event_id)


def other_sessions() -> int:
    """Connections to the test database other than this thread's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.fixture
def live_numbers(
    live_server: Any, sandbox: Any, settings: Any, tenant: Tenant
) -> Iterator[Callable[..., Number]]:
    """Create numbers whose provider posts webhooks to our live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    before = other_sessions()

    def make(provider: str = "evolution") -> Number:
        extra: dict[str, str] = {}
        if provider == "greenapi":
            created = sandbox.create_greenapi_instance()
            extra = {
                "greenapi_id_instance": str(created["idInstance"]),
                "greenapi_api_token": created["apiTokenInstance"],
            }
        return services.create_number(tenant, name="Support", provider=provider, **extra)

    yield make
    # The sandbox's keep-alive connections keep live-server threads (and their database
    # connections) open: close them so the test database can be dropped at the end.
    sandbox.reset()
    asyncio.run_coroutine_threadsafe(sandbox.sandbox.webhooks.close(), sandbox.loop).result(5)
    wait_for(lambda: other_sessions() <= before)


def test_a_scan_in_the_sandbox_connects_the_evolution_number_through_its_webhook(
    live_numbers, sandbox
):
    number = services.connect(live_numbers())
    sandbox.scan(
        "evolution", number.instance_name, phone="5511988887777", profileName="Acme Support"
    )
    wait_for(stored(number, "connection.update", ":open:"))
    process_received()
    number.refresh_from_db()
    assert (number.status, number.status_reason) == ("connected", "scan_completed")
    assert (number.phone_number, number.profile_name) == ("5511988887777", "Acme Support")
    assert number.connection_events.filter(to_status="connected").get().source == "webhook"


def test_a_scan_connects_a_greenapi_number_through_its_webhook(live_numbers, sandbox):
    number = services.connect(live_numbers("greenapi"))
    sandbox.scan("greenapi", number.provider_instance_id, phone="5511977776666")
    wait_for(stored(number, "stateInstanceChanged", ":authorized:"))
    process_received()
    number.refresh_from_db()
    assert (number.status, number.phone_number) == ("connected", "5511977776666")


def test_an_inbound_message_and_the_receipts_of_a_send_arrive_by_webhook(live_numbers, sandbox):
    number = services.connect(live_numbers())
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    sandbox.inbound(
        "evolution",
        number.instance_name,
        **{"from": "5511888888888", "text": "Hi there", "lid": True},
    )
    wait_for(stored(number, "messages.upsert"))
    process_received()
    inbound = Message.objects.get(direction="inbound")
    assert (inbound.text, inbound.conversation.contact.phone) == ("Hi there", "5511888888888")
    assert inbound.conversation.contact.lid.endswith("@lid")

    # What the send pipeline (issue 7) does: send, then record the provider id on our message.
    sandbox.settings(auto_receipts=False)
    sent = get_gateway("evolution").send_text(number.ref, TextMessage("5511888888888", "Hello"))
    Message.objects.create(
        tenant=number.tenant,
        number=number,
        direction="outbound",
        conversation=Conversation.objects.get(),
        status="sent",
        provider_message_id=sent.provider_message_id,
    )
    sandbox.receipts(sent.provider_message_id, ["read", "delivered", "read"])
    wait_for(
        lambda: WebhookEvent.objects.filter(
            event_name="messages.update", dedupe_key__endswith=":READ", duplicates=1
        ).exists()
    )
    wait_for(stored(number, "messages.update", count=2))
    process_received()
    outbound = Message.objects.get(direction="outbound")
    assert outbound.status == "read" and outbound.delivered_at == outbound.read_at


def test_the_fixture_command_posts_to_a_running_server(live_server, evolution_number, capsys):
    call_command(
        "post_webhook_fixture",
        "messages_upsert__text",
        number="acme-wa1",
        url=live_server.url,
        sign=True,
    )
    call_command(
        "post_webhook_fixture",
        "messages_upsert__text",
        number=str(evolution_number.pk),
        url=live_server.url,
        fresh=True,
    )
    assert capsys.readouterr().out.splitlines() == ['200 {"ok": true}'] * 2
    assert WebhookEvent.objects.filter(number=evolution_number).count() == 2
