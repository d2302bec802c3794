"""Over real HTTP: edits, deletions, reactions and replies change the original message only."""

from __future__ import annotations

from typing import Any

import pytest

from instances import services
from instances.models import Number
from messaging.models import Conversation, Message

from .flow import live_numbers, process_received, stored, wait_for

__all__ = ["live_numbers"]
pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "5511888888888"
MESSAGE_EVENT = {"evolution": "messages.upsert", "greenapi": "incomingMessageReceived"}
EDIT_EVENT = {"evolution": "messages.edited", "greenapi": "incomingMessageReceived"}


def key_of(number: Number) -> str:
    """The sandbox's name for the number's instance."""
    return number.instance_name if number.provider == "evolution" else number.provider_instance_id


def connected(number: Number, sandbox: Any) -> Number:
    """Scan in the sandbox and apply the webhook that says so."""
    number = services.connect(number)
    sandbox.scan(number.provider, key_of(number), phone="5511988887777")
    state = ":open:" if number.provider == "evolution" else ":authorized:"
    name = "connection.update" if number.provider == "evolution" else "stateInstanceChanged"
    wait_for(stored(number, name, state))
    process_received()
    return number


def events_of(number: Number) -> int:
    """How many deliveries we stored for the number."""
    return number.webhook_events.count()


def then(number: Number, before: int, count: int = 1) -> None:
    """Wait for `count` more deliveries and process them."""
    wait_for(lambda: events_of(number) >= before + count)
    process_received()


@pytest.mark.parametrize("provider", ["evolution", "greenapi"])
def test_an_edit_a_reaction_a_reply_and_a_deletion_change_only_the_original(
    provider: Any, live_numbers: Any, sandbox: Any, api: Any
) -> None:
    number = connected(live_numbers(provider), sandbox)
    sent = sandbox.inbound(provider, key_of(number), **{"from": CUSTOMER, "text": "Hi"})
    wait_for(stored(number, MESSAGE_EVENT[provider]))
    process_received()
    original = Message.objects.get(provider_message_id=sent["id"])
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 1

    before = events_of(number)
    sandbox.edit(sent["id"], "Hi, edited")
    then(number, before)
    before = events_of(number)
    sandbox.react(sent["id"], "👍")
    then(number, before)
    shown = api.get(f"/api/v1/messages/{original.pk}/").json()
    assert shown["text"] == "Hi, edited" and shown["edited_at"] is not None
    assert [(r["emoji"], r["from"]) for r in shown["reactions"]] == [("👍", CUSTOMER)]

    before = events_of(number)
    sandbox.react(sent["id"], "")
    then(number, before)
    assert api.get(f"/api/v1/messages/{original.pk}/").json()["reactions"] == []

    before = events_of(number)
    reply = sandbox.inbound(
        provider, key_of(number), **{"from": CUSTOMER, "text": "And this", "replyTo": sent["id"]}
    )
    then(number, before)
    answer = Message.objects.get(provider_message_id=reply["id"])
    assert api.get(f"/api/v1/messages/{answer.pk}/").json()["reply_to"] == str(original.pk)

    before = events_of(number)
    sandbox.revoke(sent["id"])
    # Evolution reports a revoke twice: as an edit of type REVOKE and as a deletion.
    then(number, before, 2 if provider == "evolution" else 1)
    shown = api.get(f"/api/v1/messages/{original.pk}/").json()
    assert shown["deleted_at"] is not None and shown["text"] == ""
    assert shown["status"] == "received"

    assert Message.objects.count() == 2  # the original and the reply; no change made a message
    conversation.refresh_from_db()
    assert conversation.unread_count == 2
