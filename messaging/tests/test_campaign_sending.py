"""A campaign goes out through the real send pipeline to the sandbox, paced by its delay."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from messaging import campaigns, lanes, sending
from messaging.models import Message, SendAttempt

from .fixtures import make_due, send, sent_at_provider

pytestmark = pytest.mark.django_db

DELAY = 0.05


def work_until_done(campaign, timeout: float = 30) -> None:
    """A worker: run the number's lane whenever it is due, as its wake-ups and the sweep would."""
    deadline = time.monotonic() + timeout
    while campaign.messages.filter(status="queued").exists() and time.monotonic() < deadline:
        lanes.run(campaign.number_id)
        time.sleep(DELAY / 5)


def test_a_campaign_of_fifty_recipients_completes_with_the_delay_respected(linked, tenant, sandbox):
    recipients = [f"55119777{i:05d}" for i in range(50)]
    campaign = campaigns.create_campaign(
        tenant, linked, name="Launch", text="Hello!", recipients=recipients, delay_seconds=DELAY
    )
    campaigns.start_campaign(campaign)
    work_until_done(campaign)
    assert campaigns.complete_finished() == 1
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert campaigns.progress(campaign)["sent"] == 50
    assert sorted(m["chat"].split("@")[0] for m in sent_at_provider(sandbox)) == recipients
    starts = list(
        SendAttempt.objects.filter(message__campaign=campaign)
        .order_by("started_at")
        .values_list("started_at", flat=True)
    )
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 50 and min(gaps) >= DELAY * 0.9


def test_a_paused_campaign_sends_nothing_until_resumed(linked, tenant, sandbox):
    campaign = campaigns.create_campaign(
        tenant, linked, name="Launch", text="Hi", recipients=["5511977700001", "5511977700002"]
    )
    campaigns.start_campaign(campaign)
    campaigns.pause_campaign(campaign)
    Message.objects.filter(campaign=campaign).update(next_attempt_at=timezone.now())
    for message in campaign.messages.all():
        make_due(message)
        send(message)
    assert sent_at_provider(sandbox) == []
    assert set(campaign.messages.values_list("status", flat=True)) == {"queued"}
    campaigns.start_campaign(campaign)
    campaign.delay_seconds = 0
    work_until_done(campaign)
    assert len(sent_at_provider(sandbox)) == 2


def test_a_message_at_the_provider_when_its_campaign_is_cancelled_still_counts_as_sent(
    linked, tenant, sandbox, monkeypatch
):
    campaign = campaigns.create_campaign(
        tenant, linked, name="Launch", text="Hi", recipients=["5511977700001"], delay_seconds=0
    )
    campaigns.start_campaign(campaign)
    call_provider = sending.call_provider

    def cancel_meanwhile(message):
        result = call_provider(message)
        campaigns.cancel_campaign(campaign)
        return result

    monkeypatch.setattr(sending, "call_provider", cancel_meanwhile)
    send(campaign.messages.get())
    message = campaign.messages.get()
    assert (message.status, message.error_code) == ("sent", "")
    assert message.provider_message_id == sent_at_provider(sandbox)[0]["id"]
