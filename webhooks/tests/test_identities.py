"""One person, one contact: phone and LID kept together, merged when a message reveals both."""

from __future__ import annotations

from typing import Any

import pytest

from messaging.models import Contact, Conversation, Message
from webhooks import tasks
from webhooks.models import WebhookEvent

from .flow import live_numbers, process_received, stored, wait_for

__all__ = ["live_numbers"]
PHONE = "5511888888888"
LID = "123456789012345@lid"


@pytest.fixture
def apply(deliver: Any, fixture_for: Any) -> Any:
    """Deliver fixtures to a number and process each at once."""

    def run(number: Any, *names: str) -> None:
        for name in names:
            assert deliver(number, fixture_for(number, name)).status_code == 200
            event = WebhookEvent.objects.filter(number=number).order_by("-id").first()
            assert event is not None
            tasks.process_webhook_event(event.pk)

    return run


@pytest.mark.django_db
def test_a_lid_contact_and_a_phone_contact_merge_when_a_message_carries_both(
    apply: Any, evolution_number: Any, api: Any
) -> None:
    apply(evolution_number, "messages_upsert__lid_without_phone", "messages_upsert__text")
    assert Contact.objects.count() == 2 and Conversation.objects.count() == 2
    apply(evolution_number, "messages_upsert__lid")
    contact = Contact.objects.get()
    assert (contact.phone, contact.lid) == (PHONE, LID)
    conversation = Conversation.objects.get()
    assert conversation.messages.count() == 3 and conversation.unread_count == 3
    shown = api.get("/api/v1/conversations/").json()["results"]
    assert [(c["contact"]["phone"], c["contact"]["lid"]) for c in shown] == [(PHONE, LID)]


@pytest.mark.django_db
def test_a_phone_addressed_chat_keeps_the_lid_it_carries(apply: Any, evolution_number: Any) -> None:
    apply(evolution_number, "messages_upsert__phone_addressed_with_lid", "messages_upsert__lid")
    contact = Contact.objects.get()
    assert (contact.phone, contact.lid) == (PHONE, LID)
    assert Conversation.objects.get().messages.count() == 2


@pytest.mark.django_db
def test_evolution_2_3_2_sender_pn_gives_the_phone(apply: Any, evolution_number: Any) -> None:
    apply(evolution_number, "messages_upsert__lid_sender_pn")
    contact = Contact.objects.get()
    assert (contact.phone, contact.lid) == (PHONE, LID)


@pytest.mark.django_db
def test_a_group_member_is_the_phone_in_both_addressing_modes(
    apply: Any, evolution_number: Any
) -> None:
    apply(
        evolution_number,
        "messages_upsert__group_phone_addressed",
        "messages_upsert__group_lid_addressed",
    )
    assert set(Message.objects.values_list("sender", flat=True)) == {"5511777777777"}
    assert Conversation.objects.get().contact.is_group


@pytest.mark.django_db(transaction=True)
def test_over_http_a_lid_chat_and_a_phone_addressed_group_land_under_the_phone(
    live_numbers: Any, sandbox: Any
) -> None:
    from instances import services

    number = services.connect(live_numbers())
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    wait_for(stored(number, "connection.update", ":open:"))
    group = "120363025246125486@g.us"
    key = number.instance_name
    sandbox.inbound("evolution", key, **{"from": PHONE, "text": "lid", "addressing": "lid"})
    sandbox.inbound("evolution", key, **{"from": PHONE, "text": "pn"})
    sandbox.inbound("evolution", key, **{"from": PHONE, "text": "group", "group": group})
    sandbox.inbound(
        "evolution", key, **{"from": PHONE, "text": "g-lid", "group": group, "addressing": "lid"}
    )
    wait_for(stored(number, "messages.upsert", count=4))
    process_received()
    chat = Contact.objects.get(is_group=False)
    assert chat.phone == PHONE and chat.lid.endswith("@lid")
    assert Conversation.objects.get(contact=chat).messages.count() == 2
    in_group = Message.objects.filter(is_group=True)
    assert sorted(in_group.values_list("sender", flat=True)) == [PHONE, PHONE]
