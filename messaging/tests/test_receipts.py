"""One function applies a message status: it only climbs, `failed` is terminal, stamps set once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from messaging import services
from messaging.models import Message, PendingReceipt
from providers.events import MessageStatus as M

pytestmark = pytest.mark.django_db
ID = "3EB08EE80DB4E276AFE85B"
T1, T2, T3 = (datetime(2026, 1, 22, 22, 0, s, tzinfo=UTC) for s in (1, 2, 3))


def apply(number, status, at=None, **kwargs) -> Message | None:
    """Apply a receipt for message ID."""
    return services.apply_status(number, ID, status, at=at, **kwargs)


def test_a_read_receipt_before_its_delivered_receipt_leaves_the_message_read(number, outbound):
    message = outbound(status="sent", sent_at=T1)
    apply(number, M.READ, at=T2)
    apply(number, M.DELIVERED, at=T3)
    message.refresh_from_db()
    assert message.status == "read"
    # Read implies delivered: both stamped when read arrived, never moved afterwards.
    assert (message.sent_at, message.delivered_at, message.read_at) == (T1, T2, T2)


def test_receipts_twice_and_out_of_order_end_at_the_highest_status(number, outbound):
    message = outbound()
    for status in (M.DELIVERED, M.SENT, M.PLAYED, M.DELIVERED, M.READ, M.PLAYED):
        apply(number, status, at=T1)
    message.refresh_from_db()
    assert message.status == "played" and message.read_at == T1


def test_timestamps_are_set_once(number, outbound):
    message = outbound()
    apply(number, M.SENT, at=T1)
    apply(number, M.SENT, at=T2)
    message.refresh_from_db()
    assert message.sent_at == T1


def test_failed_is_terminal_and_carries_the_reason(number, outbound):
    message = outbound(status="sent")
    apply(number, M.FAILED, at=T1, reason="not_on_whatsapp", detail="No WhatsApp account")
    apply(number, M.READ, at=T2)
    message.refresh_from_db()
    assert (message.status, message.failed_at, message.read_at) == ("failed", T1, None)
    assert message.error == {"code": "not_on_whatsapp", "message": "No WhatsApp account"}


def test_a_late_failure_never_undoes_a_delivery(number, outbound):
    """Reference R7: failures are terminal only from pending or sent."""
    message = outbound(status="delivered")
    apply(number, M.FAILED)
    message.refresh_from_db()
    assert message.status == "delivered" and message.error is None


def test_an_unknown_status_changes_nothing_and_is_not_kept(number, outbound):
    message = outbound(status="sent")
    assert apply(number, M.UNKNOWN) is None
    message.refresh_from_db()
    assert message.status == "sent" and not PendingReceipt.objects.exists()


def test_receipts_never_touch_inbound_messages(number, outbound):
    inbound = outbound(direction="inbound", status="received")
    apply(number, M.READ)
    inbound.refresh_from_db()
    assert inbound.status == "received"


def test_a_receipt_for_a_message_we_do_not_have_yet_is_applied_when_it_gets_its_id(
    number, outbound
):
    assert apply(number, M.DELIVERED, at=T1) is None
    assert apply(number, M.READ, at=T2) is None
    apply(number, M.READ, at=T3)  # the provider repeats itself
    assert PendingReceipt.objects.count() == 2
    message = outbound(provider_message_id="", status="queued")
    message.provider_message_id, message.status, message.sent_at = ID, "sent", T1
    message.save()
    assert services.apply_pending_receipts(message) == 2
    assert (message.status, message.delivered_at, message.read_at) == ("read", T1, T2)
    assert not PendingReceipt.objects.exists()


def test_the_periodic_safety_net_applies_receipts_whose_message_appeared_meanwhile(
    number, outbound
):
    apply(number, M.DELIVERED, at=T1)
    message = outbound(status="sent")  # got its id without apply_pending_receipts being called
    assert services.apply_waiting_receipts() == 1
    message.refresh_from_db()
    assert message.status == "delivered" and not PendingReceipt.objects.exists()


def test_receipts_whose_message_never_appears_are_dropped_after_a_day(number):
    apply(number, M.READ)
    PendingReceipt.objects.update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    apply(number, M.DELIVERED)
    assert services.drop_stale_receipts() == 1
    assert list(PendingReceipt.objects.values_list("status", flat=True)) == ["delivered"]
