"""Changes, calls and provider notices from recorded payloads, in any order of arrival."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from messaging.models import Conversation, Message
from notifications.models import Delivery, Endpoint
from tenants.models import Membership
from tenants.services import find_or_create_user
from webhooks import tasks
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def apply(deliver: Any, fixture_for: Any) -> Any:
    """Deliver fixtures (name, or name and changes to its `data`) and process each at once."""

    def run(number: Any, *fixtures: str | tuple[str, dict[str, Any]]) -> None:
        for fixture in fixtures:
            name, changes = (fixture, {}) if isinstance(fixture, str) else fixture
            assert isinstance(name, str)
            payload = fixture_for(number, name)
            payload["data"].update(changes) if changes else None
            assert deliver(number, payload).status_code == 200
            event = WebhookEvent.objects.filter(number=number).order_by("-id").first()
            assert event is not None
            tasks.process_webhook_event(event.pk)

    return run


def test_an_edit_that_arrives_before_its_message_is_applied_when_the_message_comes(
    apply: Any, evolution_number: Any
) -> None:
    apply(evolution_number, "messages_edited__edit")
    assert not Message.objects.exists()
    apply(evolution_number, "messages_upsert__text")
    message = Message.objects.get()
    assert message.text == "Hi, edited" and message.edited_at is not None
    assert message.conversation.unread_count == 1


def test_an_older_edit_arriving_late_does_not_undo_a_newer_one(
    apply: Any, evolution_number: Any
) -> None:
    edit: dict[str, Any] = {"timestampMs": "1757464400000"}
    edit["editedMessage"] = {"conversation": "Third version"}
    newer = ("messages_edited__edit", edit)
    older = ("messages_edited__edit", {"timestampMs": "1757464300000"})
    apply(evolution_number, "messages_upsert__text", newer, older)
    assert Message.objects.get().text == "Third version"


def test_a_reaction_to_our_message_leaves_its_status_and_the_unread_count(
    apply: Any, evolution_number: Any, our_message: Any
) -> None:
    apply(evolution_number, "messages_upsert__reaction")
    our_message.refresh_from_db()
    assert our_message.status == "sent"
    assert [r["emoji"] for r in our_message.reactions] == ["👍"]
    assert our_message.reactions[0]["from"] == "5511888888888"
    assert Message.objects.count() == 1 and Conversation.objects.get().unread_count == 0
    apply(evolution_number, "messages_upsert__reaction_removed")
    our_message.refresh_from_db()
    assert our_message.reactions == []


def test_a_revoke_reported_twice_deletes_once_and_hides_the_text(
    apply: Any, evolution_number: Any, api: Any
) -> None:
    apply(
        evolution_number, "messages_upsert__text", "messages_edited__revoke", "messages_delete__key"
    )
    message = Message.objects.get()
    assert message.deleted_at is not None and message.status == "received"
    shown = api.get(f"/api/v1/messages/{message.pk}/").json()
    assert shown["text"] == "" and shown["deleted_at"] is not None
    apply(evolution_number, "messages_edited__edit")
    assert Message.objects.get().text == "Hi"  # kept, never shown; a deleted one is not edited


def test_tenants_hear_of_a_change_as_message_updated(
    apply: Any, evolution_number: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Endpoint.objects.create(
        tenant=evolution_number.tenant,
        url="https://hooks.example.com/in",
        event_types=["message.updated"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        apply(evolution_number, "messages_upsert__text", "messages_edited__edit")
    [update] = Delivery.objects.filter(event_type="message.updated")
    assert update.payload["data"]["text"] == "Hi, edited"


def test_greenapi_edits_and_deletions_are_not_messages(apply: Any, greenapi_number: Any) -> None:
    apply(greenapi_number, "incomingMessageReceived__text")
    original = Message.objects.get()
    apply(
        greenapi_number,
        "incomingMessageReceived__edited",
        "incomingMessageReceived__deleted",
    )
    original.refresh_from_db()
    assert (original.text, Message.objects.count()) == ("Hi, edited", 1)
    assert original.deleted_at is not None
    assert original.conversation.unread_count == 1


def test_a_reply_links_the_message_it_quotes(
    apply: Any, greenapi_number: Any, our_message: Any
) -> None:
    our_message.number = greenapi_number
    our_message.save()
    apply(greenapi_number, "incomingMessageReceived__quoted")
    reply = Message.objects.get(direction="inbound")
    assert reply.reply_to_id == our_message.pk and reply.text == "Yes, that one"


def test_a_call_is_one_entry_in_its_conversation_that_follows_the_call(
    apply: Any, greenapi_number: Any
) -> None:
    apply(greenapi_number, "incomingCall__offer", "incomingCall__missed", "incomingCall__offer")
    call = Message.objects.get()
    assert (call.type, call.direction, call.extra["status"]) == ("call", "inbound", "missed")
    assert call.conversation.contact.phone == "5511888888888"
    assert call.conversation.unread_count == 1


def test_a_lid_call_lands_under_the_phone(apply: Any, evolution_number: Any) -> None:
    apply(evolution_number, "call__lid_timeout")
    call = Message.objects.get()
    assert call.conversation.contact.phone == "5511888888888"
    assert call.extra == {"status": "timeout", "is_video": True}


def test_remove_instance_marks_the_number_as_the_daily_sync_would(
    apply: Any, evolution_number: Any
) -> None:
    apply(evolution_number, "remove_instance__null")
    evolution_number.refresh_from_db()
    assert (evolution_number.status, evolution_number.status_reason) == (
        "disconnected",
        "not_found",
    )
    assert evolution_number.connection_events.get().source == "webhook"


def test_quota_exceeded_records_the_reason_and_tells_the_admins_once(
    apply: Any, greenapi_number: Any, django_capture_on_commit_callbacks: Any
) -> None:
    owner = find_or_create_user("owner@acme.test", "pw-owner-123")
    Membership.objects.create(user=owner, tenant=greenapi_number.tenant, role="owner")
    with django_capture_on_commit_callbacks(execute=True):
        apply(greenapi_number, "quotaExceeded__correspondents")
    with django_capture_on_commit_callbacks(execute=True):
        apply(greenapi_number, ("quotaExceeded__correspondents", {}))
    greenapi_number.refresh_from_db()
    assert (greenapi_number.status, greenapi_number.status_reason) == (
        "connected",
        "quota_exceeded",
    )
    assert [m.to for m in mail.outbox] == [["owner@acme.test"]]
    assert "quota" in mail.outbox[0].subject
