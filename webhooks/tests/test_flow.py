"""End to end over real HTTP: the sandbox provider posts webhooks to our live server."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from instances import services
from messaging.models import Conversation, Message
from providers.registry import get_gateway
from providers.types import TextMessage
from webhooks.models import WebhookEvent

from .flow import live_numbers, process_received, stored, wait_for

__all__ = ["live_numbers"]

pytestmark = pytest.mark.django_db(transaction=True)


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
    # In this order (read, then a late delivered): the late rung must not move anything back.
    sandbox.settings(auto_receipts=False, evolution_webhook_order="ordered")
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
