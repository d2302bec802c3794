"""The send task against the sandbox provider: success, each error class, waits and pauses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from instances.models import Number
from messaging import sending
from messaging.models import Campaign, Message
from messaging.services import apply_status, record_inbound
from providers.events import MessageReceived, MessageStatus
from tenants.models import Membership
from tenants.services import find_or_create_user

from .fixtures import make_due, run_until_settled, send, sent_at_provider

pytestmark = pytest.mark.django_db


def test_a_queued_text_is_sent_once_with_its_provider_id(queue, sandbox):
    message = queue("Hello there")
    assert send(message) == "sent"
    message.refresh_from_db()
    sent = sent_at_provider(sandbox)
    assert [m["text"] for m in sent] == ["Hello there"]
    assert (message.status, message.provider_message_id) == ("sent", sent[0]["id"])
    assert message.attempts == 1 and message.sent_at and message.next_attempt_at is None
    assert list(message.send_attempts.values_list("outcome", flat=True)) == ["sent"]
    assert send(message) == "idle"
    assert len(sent_at_provider(sandbox)) == 1


def test_an_image_goes_out_by_url_with_its_caption_on_greenapi(linked_green, queue, sandbox):
    message = queue(
        "",
        number=linked_green,
        type="image",
        media_url="https://cdn.example.com/a.png",
        caption="Our menu",
    )
    handed = run_until_settled(message)
    # GreenAPI took it into its own queue: ours keeps it queued, with its id, until GreenAPI
    # says it left (Corrections and additions); the lane never sends it again meanwhile.
    assert (handed.status, handed.attempts, handed.sent_at) == ("queued", 1, None)
    assert handed.provider_message_id and len(sent_at_provider(sandbox)) == 1
    assert send(handed) != "sent" and len(sent_at_provider(sandbox)) == 1
    apply_status(linked_green, handed.provider_message_id, MessageStatus.SENT)
    handed.refresh_from_db()
    assert handed.status == "sent" and handed.sent_at is not None


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_request"),
        (401, "unauthorized"),
        (403, "unauthorized"),
        (422, "invalid_request"),
    ],
)
def test_a_request_the_provider_refuses_fails_at_once(queue, sandbox, status, code):
    sandbox.faults(error_rate=1, error_status=status, path_contains="/message/")
    message = run_until_settled(queue())
    assert (message.status, message.error_code, message.attempts) == ("failed", code, 1)
    assert message.failed_at and message.error and message.error["code"] == code
    attempt = message.send_attempts.get()
    assert (attempt.outcome, attempt.provider_status_code) == ("failed", status)


def test_a_recipient_not_on_whatsapp_fails_at_once(queue, sandbox):
    sandbox.control("POST", "/numbers", {"number": "5511777777777", "onWhatsApp": False})
    message = run_until_settled(queue(to="5511777777777"))
    assert (message.status, message.error_code, message.attempts) == (
        "failed",
        "not_on_whatsapp",
        1,
    )


def test_a_404_fails_the_message_and_disconnects_the_number(linked, queue, sandbox):
    sandbox.faults(error_rate=1, error_status=404, path_contains="/message/")
    message = run_until_settled(queue())
    linked.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "not_found")
    assert (linked.status, linked.status_reason) == ("disconnected", "not_found")


def test_a_greenapi_quota_error_fails_at_once(linked_green, queue, sandbox):
    sandbox.faults(error_rate=1, error_status=466, provider="greenapi", path_contains="send")
    message = run_until_settled(queue(number=linked_green))
    assert (message.status, message.error_code, message.attempts) == ("failed", "quota_exceeded", 1)


def test_a_transient_error_is_retried_with_growing_backoff_then_fails_after_six_tries(
    queue, sandbox, settings
):
    settings.PROVIDER_BREAKER_FAIL_MAX = 100
    sandbox.faults(error_rate=1, error_status=500, path_contains="/message/")
    message = queue()
    waits = []
    for _ in range(5):
        before = timezone.now()
        send(message)
        message.refresh_from_db()
        waits.append((message.next_attempt_at - before).total_seconds())
        make_due(message)
    assert message.status == "queued" and message.error is None
    assert 2.5 <= waits[0] <= 5.1 and 40 <= waits[4] <= 80.1
    send(message)
    message.refresh_from_db()
    assert (message.status, message.error_code, message.attempts) == (
        "failed",
        "provider_unavailable",
        6,
    )
    assert list(message.send_attempts.values_list("outcome", flat=True)) == ["retry"] * 5 + [
        "failed"
    ]


def test_a_dropped_connection_is_retried_and_the_message_then_sent(queue, sandbox, settings):
    # A dropped answer may hide a performed send; the provider shows none, so after the grace
    # period it is sent again.
    settings.SEND_IN_FLIGHT_GRACE_SECONDS = 0
    sandbox.faults(drop_rate=1, count=1, path_contains="/message/")
    message = run_until_settled(queue())
    assert (message.status, message.attempts) == ("sent", 2)
    assert len(sent_at_provider(sandbox)) == 1


def test_a_429_waits_for_retry_after_and_does_not_use_up_the_tries(queue, sandbox, settings):
    settings.SEND_MAX_ATTEMPTS = 2
    sandbox.faults(rate_limit_rate=1, retry_after=7, count=3, path_contains="/message/")
    message = queue()
    send(message)
    message.refresh_from_db()
    wait = (message.next_attempt_at - timezone.now()).total_seconds()
    assert message.status == "queued" and 6 <= wait <= 7.1
    assert message.send_attempts.get().error_code == "rate_limited"
    make_due(message)
    message = run_until_settled(message)
    assert (message.status, message.attempts) == ("sent", 4)


def test_an_open_circuit_defers_the_message_without_an_attempt(queue, sandbox, settings):
    settings.PROVIDER_BREAKER_FAIL_MAX = 1
    sandbox.faults(error_rate=1, error_status=503, count=1, path_contains="/message/")
    queue("one")
    second = queue("two")
    # The lane tries "one" (its 503 opens the circuit) and stops at "two".
    assert send(second) == "circuit_open"
    second.refresh_from_db()
    assert second.status == "queued" and second.attempts == 0
    assert not second.send_attempts.exists() and second.next_attempt_at > timezone.now()
    assert len(sent_at_provider(sandbox)) == 0


def test_a_message_past_its_expiry_fails_as_expired_without_a_send(queue, sandbox):
    message = queue()
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    message = run_until_settled(message)
    assert (message.status, message.error_code, message.attempts) == ("failed", "expired", 0)
    assert sent_at_provider(sandbox) == []


def test_a_number_that_is_not_connected_keeps_its_message_queued(linked, queue, sandbox):
    message = queue()
    Number.objects.filter(pk=linked.pk).update(status="connecting")
    assert send(message) == "number_not_connected"
    message.refresh_from_db()
    assert message.status == "queued" and message.next_attempt_at <= timezone.now()
    Number.objects.filter(pk=linked.pk).update(status="connected")
    assert send(message) == "sent"


def test_a_message_not_yet_due_is_left_for_later(queue, sandbox):
    message = queue(not_before=timezone.now() + timedelta(minutes=5))
    assert send(message) == "idle"
    assert sent_at_provider(sandbox) == []


@pytest.fixture
def campaign(linked: Number) -> Campaign:
    """A running campaign on the linked number."""
    return Campaign.objects.create(
        tenant=linked.tenant, number=linked, name="Promo", text="Hi", status="running"
    )


def test_a_paused_campaign_holds_its_messages_and_a_cancelled_one_fails_them(
    campaign, queue, sandbox
):
    due = timezone.now() - timedelta(seconds=3)
    message = queue(campaign=campaign)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=due)
    Campaign.objects.filter(pk=campaign.pk).update(status="paused")
    assert send(message) == "idle"
    message.refresh_from_db()
    assert message.status == "queued" and message.next_attempt_at == due
    Campaign.objects.filter(pk=campaign.pk).update(status="cancelled")
    message = run_until_settled(message)
    assert (message.status, message.error_code) == ("failed", "campaign_cancelled")
    assert sent_at_provider(sandbox) == []


def test_ten_failed_sends_pause_the_number_and_email_its_admins(linked, queue, sandbox):
    admin = find_or_create_user("boss@acme.test", None)
    Membership.objects.create(user=admin, tenant=linked.tenant, role="admin")
    sandbox.faults(error_rate=1, error_status=400, path_contains="/message/")
    for i in range(9):
        run_until_settled(queue(f"try {i}"))
    linked.refresh_from_db()
    assert (linked.status, linked.consecutive_send_failures) == ("connected", 9)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: fn())
        run_until_settled(queue("the tenth"))
    linked.refresh_from_db()
    assert (linked.status, linked.status_reason) == ("paused", "send_failures")
    assert linked.connection_events.filter(to_status="paused").count() == 1
    assert [m.to for m in mail.outbox] == [["boss@acme.test"]]
    assert "paused" in mail.outbox[0].subject


def test_a_success_resets_the_failure_count(linked, queue, sandbox):
    sandbox.faults(error_rate=1, error_status=400, count=3, path_contains="/message/")
    for i in range(3):
        run_until_settled(queue(f"bad {i}"))
    run_until_settled(queue("good"))
    linked.refresh_from_db()
    assert linked.consecutive_send_failures == 0


def test_a_receipt_that_arrives_before_the_send_is_recorded_is_applied(linked, queue, monkeypatch):
    original = sending.call_provider

    def webhook_first(message: Message) -> object:
        result = original(message)
        apply_status(linked, result.provider_message_id, MessageStatus.DELIVERED)
        return result

    monkeypatch.setattr(sending, "call_provider", webhook_first)
    message = run_until_settled(queue())
    assert message.status == "delivered" and message.delivered_at and message.sent_at
    for status in (
        MessageStatus.READ,
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.SENT,
    ):
        apply_status(linked, message.provider_message_id, status)
    message.refresh_from_db()
    assert message.status == "read"


def test_a_copy_a_webhook_recorded_first_gives_way_to_the_sent_message(linked, queue, monkeypatch):
    original = sending.call_provider

    def echo_first(message: Message) -> object:
        result = original(message)
        record_inbound(
            linked,
            MessageReceived(
                provider="evolution",
                instance=linked.instance_name,
                raw={},
                from_me=True,
                message_id=result.provider_message_id,
                chat_id="5511888888888@s.whatsapp.net",
            ),
        )
        return result

    monkeypatch.setattr(sending, "call_provider", echo_first)
    message = run_until_settled(queue())
    assert message.status == "sent" and message.provider_message_id
    assert Message.objects.filter(provider_message_id=message.provider_message_id).get() == message
