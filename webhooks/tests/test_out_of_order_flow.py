"""Over real HTTP, Evolution delivering concurrently: events that overtake each other still end
in the right state (reference 1.9: each delivery has its own retries, later ones overtake)."""

from __future__ import annotations

from typing import Any

import pytest

from instances import services
from instances.models import Number
from messaging import services as messaging
from messaging.models import Conversation, Message
from providers.registry import get_gateway
from providers.types import TextMessage
from webhooks.models import WebhookEvent

from .flow import live_numbers, process_received, stored, wait_for

__all__ = ["live_numbers"]
pytestmark = pytest.mark.django_db(transaction=True)


def connection_states(number: Number) -> list[str]:
    """The states of the connection.update deliveries stored, in arrival order."""
    events = WebhookEvent.objects.filter(number=number, event_name="connection.update")
    return [e.payload()["data"]["state"] for e in events.order_by("id")]


def test_an_open_that_overtakes_its_connecting_leaves_the_number_connected(
    live_numbers: Any, sandbox: Any
) -> None:
    sandbox.settings(webhook_initial_delay=1.0, webhook_jitter=0, reconnect_seconds=0.2)
    number = services.connect(live_numbers())
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    wait_for(stored(number, "connection.update", ":open:"))
    process_received()
    before = len(connection_states(number))
    # The connecting of a silent reconnect fails once on the way; the open after it does not.
    sandbox.faults(webhook_first_attempt_fail_rate=1, webhook_events=["connection.update"])
    sandbox.control(
        "POST", f"/evolution/instances/{number.instance_name}/disconnect", {"reason": "timed_out"}
    )
    sandbox.faults(webhook_first_attempt_fail_rate=0)
    wait_for(lambda: len(connection_states(number)) >= before + 2, timeout=15)
    assert connection_states(number)[before:] == ["open", "connecting"]  # overtaken
    process_received()
    number.refresh_from_db()
    assert number.status == "connected"


def test_a_receipt_before_its_message_and_a_late_lower_one_end_read(
    live_numbers: Any, sandbox: Any
) -> None:
    sandbox.settings(auto_receipts=False, webhook_initial_delay=1.0, webhook_jitter=0)
    number = services.connect(live_numbers())
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    wait_for(stored(number, "connection.update", ":open:"))
    process_received()
    sent = get_gateway("evolution").send_text(number.ref, TextMessage("5511888888888", "Hello"))
    sandbox.faults(webhook_first_attempt_fail_rate=1, webhook_events=["messages.update"])
    sandbox.receipts(sent.provider_message_id, ["delivered"])
    sandbox.faults(webhook_first_attempt_fail_rate=0)
    sandbox.receipts(sent.provider_message_id, ["read"])
    wait_for(stored(number, "messages.update", ":READ"))
    process_received()  # READ arrives first, for a message we have not recorded yet
    outbound = Message.objects.create(
        tenant=number.tenant,
        number=number,
        conversation=Conversation.objects.create(
            tenant=number.tenant,
            number=number,
            contact=messaging.Contact.objects.create(tenant=number.tenant, phone="5511888888888"),
        ),
        direction="outbound",
        status="sent",
        provider_message_id=sent.provider_message_id,
    )
    messaging.apply_pending_receipts(outbound)  # what the lane does once it has the id
    wait_for(stored(number, "messages.update", ":DELIVERY_ACK"), timeout=15)
    process_received()  # the overtaken DELIVERY_ACK, late
    outbound.refresh_from_db()
    assert outbound.status == "read" and outbound.delivered_at is not None
