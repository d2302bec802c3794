"""Repeated and out-of-order deliveries: stored once, processed once, statuses never go back."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from instances.models import Number
from messaging.models import Contact, Conversation, Message
from tenants.models import Tenant
from webhooks import tasks, wake
from webhooks.models import WebhookEvent

THREADS = 50


@pytest.mark.django_db(transaction=True)
def test_the_same_delivery_posted_50_times_concurrently_is_stored_and_processed_once(
    tenant: Tenant, deliver: Any, fixture_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = Number.objects.create(
        tenant=tenant,
        name="Support",
        provider="evolution",
        instance_name="acme-wa1",
        status="connected",
    )
    wakes: list[None] = []
    monkeypatch.setattr(wake, "wake", lambda: wakes.append(None))
    payload = fixture_for(number, "messages_upsert__text")
    start = threading.Barrier(THREADS)

    def post(_: int) -> int:
        try:
            client = Client()
            start.wait()
            return int(deliver(number, payload, via=client).status_code)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(post, range(THREADS)))
    assert statuses == [200] * THREADS
    event = WebhookEvent.objects.get()
    # Only the request that inserted it wakes processing.
    assert event.duplicates == THREADS - 1 and len(wakes) == 1

    def process(n: int) -> int:
        try:
            start.wait()
            # Woken drains and per-event tasks (redrive) race for the same event.
            if n % 2:
                return tasks.process_pending()
            return int(tasks.process_webhook_event(event.pk) == "processed")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(process, range(THREADS)))
    assert sum(outcomes) == 1
    assert WebhookEvent.objects.get().status == "processed"
    assert Message.objects.count() == 1 and Contact.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


def process_delivered(deliver: Any, number: Number, payload: dict[str, Any]) -> None:
    """Deliver a payload and process what was stored."""
    assert deliver(number, payload).status_code == 200
    tasks.process_webhook_event(WebhookEvent.objects.latest("id").pk)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "read", "delivered"),
    [
        ("evolution", "messages_update__read", "messages_update__delivery_ack"),
        ("greenapi", "outgoingMessageStatus__read", "outgoingMessageStatus__delivered"),
    ],
)
def test_a_read_receipt_processed_before_its_delivered_receipt_leaves_the_message_read(
    request: Any, deliver: Any, fixture_for: Any, provider: str, read: str, delivered: str
) -> None:
    number = request.getfixturevalue(f"{provider}_number")
    contact = Contact.objects.create(tenant=number.tenant, phone="5511888888888")
    message = Message.objects.create(
        tenant=number.tenant,
        number=number,
        direction="outbound",
        status="sent",
        conversation=Conversation.objects.create(
            tenant=number.tenant, number=number, contact=contact
        ),
        provider_message_id=fixture_for(number, read).get("idMessage", "3EB08EE80DB4E276AFE85B"),
    )
    process_delivered(deliver, number, fixture_for(number, read))
    process_delivered(deliver, number, fixture_for(number, delivered))
    message.refresh_from_db()
    assert message.status == "read" and message.delivered_at == message.read_at


@pytest.mark.django_db
def test_a_receipt_for_a_message_we_do_not_have_yet_is_applied_when_it_appears(
    deliver: Any, evolution_number: Number, fixture_for: Any
) -> None:
    # Evolution delivers concurrently, so a READ may beat the message itself (reference 1.9).
    read = fixture_for(evolution_number, "messages_update__read")
    read["data"]["keyId"] = "3EB0ME00000000000001"
    process_delivered(deliver, evolution_number, read)
    assert not Message.objects.exists()
    process_delivered(
        deliver, evolution_number, fixture_for(evolution_number, "messages_upsert__from_me")
    )
    message = Message.objects.get()
    assert (message.direction, message.status) == ("outbound", "read")


@pytest.mark.django_db
def test_a_failure_receipt_after_delivery_is_ignored(
    deliver: Any, evolution_number: Number, fixture_for: Any, our_message: Message
) -> None:
    process_delivered(
        deliver, evolution_number, fixture_for(evolution_number, "messages_update__delivery_ack")
    )
    process_delivered(
        deliver, evolution_number, fixture_for(evolution_number, "messages_update__error")
    )
    our_message.refresh_from_db()
    assert our_message.status == "delivered"
