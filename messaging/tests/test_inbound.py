"""Inbound messages are recorded once, with their contact and conversation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connections

from instances.models import Number
from messaging import services
from messaging.models import Contact, Conversation, Message
from providers.events import MessageReceived, MessageSent, MessageStatus

pytestmark = pytest.mark.django_db
CUSTOMER = "5511888888888@s.whatsapp.net"
LID = "123456789012345@lid"
AT = datetime(2026, 1, 22, 22, 0, tzinfo=UTC)


def received(message_id: str = "IN-1", chat_id: str = CUSTOMER, **fields: Any) -> MessageReceived:
    """An inbound text event from the customer."""
    base: dict[str, Any] = {
        "provider": "evolution",
        "instance": "acme-wa1",
        "raw": {},
        "message_id": message_id,
        "chat_id": chat_id,
        "sender": chat_id,
        "push_name": "Customer",
        "message_type": "text",
        "text": "Hi",
        "occurred_at": AT,
    }
    return MessageReceived(**{**base, **fields})


def test_an_inbound_message_is_recorded_with_its_contact_and_conversation(number):
    message = services.record_inbound(number, received())
    assert (message.direction, message.status, message.type, message.text) == (
        "inbound",
        "received",
        "text",
        "Hi",
    )
    assert (message.sender, message.recipient, message.sent_at) == (
        "5511888888888",
        "5511999999999",
        AT,
    )
    contact = message.conversation.contact
    assert (contact.phone, contact.jid, contact.name) == ("5511888888888", CUSTOMER, "Customer")
    conversation = Conversation.objects.get()
    assert (conversation.unread_count, conversation.last_message_at) == (1, AT)


def test_the_same_message_twice_is_recorded_once_and_counted_unread_once(number):
    first = services.record_inbound(number, received())
    again = services.record_inbound(number, received())
    assert first.pk == again.pk and Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_each_new_message_adds_one_unread_and_moves_the_thread_forward(number):
    later = datetime(2026, 1, 22, 23, 0, tzinfo=UTC)
    services.record_inbound(number, received("IN-2", occurred_at=later))
    services.record_inbound(number, received("IN-1"))  # delivered late, sent earlier
    conversation = Conversation.objects.get()
    assert (conversation.unread_count, conversation.last_message_at) == (2, later)


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_message_record_it_once(tenant):
    number = Number.objects.create(
        tenant=tenant, name="n", provider="evolution", instance_name="acme-wa9", status="connected"
    )

    def record(_: int) -> str:
        try:
            return str(services.record_inbound(number, received()).pk)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(record, range(16)))
    assert len(ids) == 1 and Message.objects.count() == 1 and Contact.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_a_lid_chat_is_identified_by_the_phone_in_remote_jid_alt(number):
    services.record_inbound(number, received("IN-1", chat_id=LID, chat_alt=CUSTOMER))
    services.record_inbound(number, received("IN-2"))
    contact = Contact.objects.get()
    assert (contact.phone, contact.lid, contact.jid) == ("5511888888888", LID, CUSTOMER)
    assert Conversation.objects.get().unread_count == 2


def test_a_lid_only_contact_learns_its_phone_later(number):
    services.record_inbound(number, received("IN-1", chat_id=LID, sender=LID))
    assert Contact.objects.get().phone == ""
    services.record_inbound(number, received("IN-2", chat_id=LID, chat_alt=CUSTOMER))
    contact = Contact.objects.get()
    assert (contact.phone, contact.lid) == ("5511888888888", LID)


def test_the_same_phone_on_two_providers_is_one_contact_per_tenant(number, other_tenant):
    green = Number.objects.create(
        tenant=number.tenant,
        name="g",
        provider="greenapi",
        instance_name="acme-green",
        provider_instance_id="1101",
    )
    services.record_inbound(number, received())
    services.record_inbound(green, received("G-1", chat_id="5511888888888@c.us"))
    assert Contact.objects.filter(tenant=number.tenant).count() == 1
    assert Conversation.objects.count() == 2
    elsewhere = Number.objects.create(
        tenant=other_tenant, name="o", provider="evolution", instance_name="globex-wa1"
    )
    services.record_inbound(elsewhere, received())
    assert Contact.objects.count() == 2


def test_group_messages_are_recorded_and_flagged(number):
    group = "120363025246125486@g.us"
    message = services.record_inbound(
        number,
        received(
            chat_id=group, sender="5511777777777@s.whatsapp.net", is_group=True, push_name="Maria"
        ),
    )
    assert message.is_group and message.sender == "5511777777777"
    contact = message.conversation.contact
    assert (contact.is_group, contact.jid, contact.phone, contact.name) == (True, group, "", "")


def test_a_message_typed_on_the_business_phone_is_outbound_and_not_unread(number, outbound):
    message = services.record_inbound(number, received("ME-1", from_me=True, push_name="Acme"))
    assert (message.direction, message.status, message.recipient) == (
        "outbound",
        "sent",
        "5511888888888",
    )
    assert Conversation.objects.get().unread_count == 0
    assert message.conversation.contact.name == ""


def test_a_receipt_that_came_first_is_applied_when_the_phone_typed_message_appears(number):
    services.apply_status(number, "ME-1", MessageStatus.READ, at=AT)
    message = services.record_inbound(number, received("ME-1", from_me=True))
    message.refresh_from_db()
    assert (message.status, message.read_at) == ("read", AT)


def test_a_sent_echo_applies_to_our_message_or_is_ignored(number, outbound):
    echo = MessageSent(
        provider="evolution",
        instance="acme-wa1",
        raw={},
        chat_id=CUSTOMER,
        message_id="3EB08EE80DB4E276AFE85B",
        status=MessageStatus.SENT,
        occurred_at=AT,
    )
    assert services.record_sent_echo(number, echo) is None  # not sent by us (yet)
    assert not Message.objects.exists()
    message = outbound()
    applied = services.record_sent_echo(number, echo)
    assert applied is not None and applied.pk == message.pk
    message.refresh_from_db()
    assert (message.status, message.sent_at) == ("sent", AT)
