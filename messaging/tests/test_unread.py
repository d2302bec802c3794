"""Unread counts clear only for messages a member actually saw on screen."""

from __future__ import annotations

import pytest

from messaging import services
from messaging.models import Conversation

from .test_live_feed import inbound

pytestmark = pytest.mark.django_db


def test_reading_up_to_a_message_leaves_the_later_ones_unread(evolution_number):
    first = inbound(evolution_number, "IN1", "um")
    inbound(evolution_number, "IN2", "dois")
    inbound(evolution_number, "IN3", "três")
    convo = Conversation.objects.get()
    assert convo.unread_count == 3
    assert services.mark_read(convo, first) == 2
    convo.refresh_from_db()
    assert convo.unread_count == 2


def test_an_older_read_never_brings_unread_back(evolution_number):
    first = inbound(evolution_number, "IN1", "um")
    last = inbound(evolution_number, "IN2", "dois")
    convo = Conversation.objects.get()
    services.mark_read(convo, last)
    assert services.mark_read(convo, first) == 0
    convo.refresh_from_db()
    assert convo.unread_count == 0


def test_a_message_arriving_after_the_page_was_shown_stays_unread(member, evolution_number):
    inbound(evolution_number, "IN1", "um")
    convo = Conversation.objects.get()
    member.get(f"/conversations/{convo.pk}/")
    later = inbound(evolution_number, "IN2", "dois")
    convo.refresh_from_db()
    assert convo.unread_count == 1
    response = member.post(f"/conversations/{convo.pk}/read/", {"through": str(later.pk)})
    assert response.json() == {"unread": 0}


def test_marking_read_needs_a_message_of_that_conversation(member, evolution_number):
    inbound(evolution_number, "IN1", "um")
    other = inbound(evolution_number, "IN2", "x", phone="5511900000000", name="Zé")
    convo = Conversation.objects.get(contact__name="Ana")
    assert (
        member.post(f"/conversations/{convo.pk}/read/", {"through": str(other.pk)}).status_code
        == 400
    )
    assert member.post(f"/conversations/{convo.pk}/read/", {"through": "nope"}).status_code == 400
