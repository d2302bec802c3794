"""Processing stored events: dispatch to the services, once, with failures kept visible."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from messaging.models import Contact, Message
from webhooks import processing, tasks
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(deliver, fixture_for):
    """Deliver a fixture (or payload) to a number and return the stored event."""

    def store(number: Any, fixture: str | dict[str, Any]) -> WebhookEvent:
        payload = fixture_for(number, fixture) if isinstance(fixture, str) else fixture
        assert deliver(number, payload).status_code == 200
        return WebhookEvent.objects.filter(number=number).latest("id")

    return store


def run(event: WebhookEvent) -> WebhookEvent:
    """Process an event with the real task and reload it."""
    tasks.process_webhook_event(event.pk)
    event.refresh_from_db()
    return event


def test_an_inbound_message_is_recorded_and_the_event_marked_processed(stored, evolution_number):
    event = run(stored(evolution_number, "messages_upsert__text"))
    assert (event.status, event.event_type, event.attempts) == ("processed", "message_received", 1)
    assert event.processed_at is not None and event.error == ""
    message = Message.objects.get()
    assert (message.direction, message.text, message.provider_message_id) == (
        "inbound",
        "Hi",
        "3EB0C767D097B7C7C030",
    )
    assert message.conversation.contact.phone == "5511888888888"


def test_processing_the_same_event_again_changes_nothing(stored, evolution_number):
    event = run(stored(evolution_number, "messages_upsert__text"))
    assert tasks.process_webhook_event(event.pk) == "skipped"
    event.refresh_from_db()
    assert event.attempts == 1 and Message.objects.count() == 1
    assert Message.objects.get().conversation.unread_count == 1


def test_an_unknown_event_is_marked_ignored(stored, evolution_number):
    event = run(stored(evolution_number, "presence_update__composing"))
    assert (event.status, event.event_type) == ("ignored", "unknown")


def test_a_known_event_with_nothing_to_do_is_ignored(stored, evolution_number):
    assert run(stored(evolution_number, "logout_instance__null")).status == "ignored"


def test_a_connection_event_connects_the_number_with_its_phone(stored, evolution_number):
    evolution_number.status, evolution_number.phone_number = "qr_pending", ""
    evolution_number.save()
    run(stored(evolution_number, "connection_update__open"))
    evolution_number.refresh_from_db()
    assert (evolution_number.status, evolution_number.status_reason) == (
        "connected",
        "scan_completed",
    )
    assert (evolution_number.phone_number, evolution_number.profile_name) == (
        "5511999999999",
        "Acme",
    )
    assert evolution_number.connection_events.get().source == "webhook"


def test_a_qr_event_shows_the_qr(stored, evolution_number):
    evolution_number.status = "disconnected"
    evolution_number.save()
    run(stored(evolution_number, "qrcode_updated__pairing_code"))
    evolution_number.refresh_from_db()
    assert evolution_number.status == "qr_pending"
    assert evolution_number.qr_code.startswith("data:image/png;base64,")
    assert evolution_number.pairing_code == "WZYEH1YY"


def test_a_greenapi_state_change_reaches_the_number(stored, greenapi_number):
    run(stored(greenapi_number, "stateInstanceChanged__blocked"))
    greenapi_number.refresh_from_db()
    assert (greenapi_number.status, greenapi_number.status_reason) == ("banned", "blocked")


def test_a_failure_is_kept_visible_and_a_later_run_succeeds(stored, evolution_number, monkeypatch):
    event = stored(evolution_number, "messages_upsert__text")

    def broken(*args: Any) -> None:
        raise RuntimeError("contact service down")

    monkeypatch.setattr("webhooks.dispatch.messaging.record_inbound_many", broken)
    with pytest.raises(RuntimeError):
        tasks.process_webhook_event(event.pk)
    event.refresh_from_db()
    assert event.status == "failed" and "contact service down" in event.error
    assert not Message.objects.exists()
    monkeypatch.undo()
    assert run(event).status == "processed" and event.attempts == 2 and event.error == ""


def test_events_of_a_number_being_deleted_are_ignored(stored, evolution_number):
    event = stored(evolution_number, "messages_upsert__text")
    evolution_number.deletion_requested_at = timezone.now()
    evolution_number.save()
    assert run(event).status == "ignored" and not Message.objects.exists()


def test_a_crash_between_store_and_processing_is_recovered_by_the_periodic_task(
    stored, evolution_number, eager_tasks
):
    # The test transaction never commits, so the on-commit enqueue never ran: a lost task.
    event = stored(evolution_number, "messages_upsert__text")
    assert tasks.redrive_webhook_events() == 0  # too recent: its task may still be on its way
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - processing.STUCK_AFTER - timedelta(seconds=1)
    )
    assert tasks.redrive_webhook_events() == 1
    event.refresh_from_db()
    assert event.status == "processed" and Message.objects.count() == 1


def test_an_event_claimed_by_a_worker_that_died_is_taken_again_after_the_lease(
    stored, evolution_number, eager_tasks
):
    event = stored(evolution_number, "messages_upsert__text")
    assert processing.claim(event.pk)
    assert tasks.process_webhook_event(event.pk) == "skipped"  # still leased to the dead worker
    assert tasks.redrive_webhook_events() == 0
    WebhookEvent.objects.filter(pk=event.pk).update(leased_until=timezone.now())
    assert tasks.redrive_webhook_events() == 1
    event.refresh_from_db()
    assert event.status == "processed" and event.attempts == 2


def test_the_reprocess_action_queues_events_again(
    stored, evolution_number, django_capture_on_commit_callbacks
):
    event = run(stored(evolution_number, "messages_upsert__text"))
    with django_capture_on_commit_callbacks() as callbacks:
        assert processing.reprocess([event.pk]) == 1
    event.refresh_from_db()
    assert event.status == "received" and len(callbacks) == 1


def test_old_events_are_purged_after_the_retention_period(stored, evolution_number, settings):
    old = stored(evolution_number, "messages_upsert__text")
    recent = stored(evolution_number, "messages_upsert__image")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=31))
    WebhookEvent.objects.filter(pk=recent.pk).update(received_at=timezone.now() - timedelta(days=6))
    assert tasks.purge_webhook_events() == 1
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    # Reference R6: keys outlive provider retries, whatever the setting says.
    settings.WEBHOOK_RETENTION_DAYS = 1
    assert tasks.purge_webhook_events() == 0


def test_a_lid_chat_is_recorded_under_the_phone_of_remote_jid_alt(stored, evolution_number):
    run(stored(evolution_number, "messages_upsert__lid"))
    contact = Contact.objects.get()
    assert (contact.phone, contact.lid) == ("5511888888888", "123456789012345@lid")


def test_a_failure_a_retry_may_fix_is_tried_again_after_a_backoff(
    stored, evolution_number, eager_tasks, monkeypatch
):
    event = stored(evolution_number, "messages_upsert__text")

    def broken(*args: Any) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr("webhooks.dispatch.messaging.record_inbound_many", broken)
    with pytest.raises(RuntimeError):
        tasks.process_webhook_event(event.pk)
    event.refresh_from_db()
    wait = (event.next_attempt_at - timezone.now()).total_seconds()
    assert event.status == "failed" and 0.5 < wait <= 2.0  # the first step of the backoff
    assert tasks.redrive_webhook_events() == 0  # not due yet
    monkeypatch.undo()
    WebhookEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    assert tasks.redrive_webhook_events() == 1
    event.refresh_from_db()
    assert (event.status, event.attempts, event.next_attempt_at) == ("processed", 2, None)


def test_an_event_no_retry_can_help_stays_failed(stored, evolution_number, eager_tasks):
    event = stored(evolution_number, "messages_upsert__text")
    WebhookEvent.objects.filter(pk=event.pk).update(body=b"[1, 2]")  # not a JSON object
    assert tasks.process_webhook_event(event.pk) == "failed"
    event.refresh_from_db()
    assert event.next_attempt_at is None and tasks.redrive_webhook_events() == 0
