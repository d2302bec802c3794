"""Campaigns: recipients, paced queuing through the normal pipeline, pause, cancel, completion."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from messaging import campaigns
from messaging.models import Campaign, Message

pytestmark = pytest.mark.django_db


def due_times(messages: Iterable[Message]) -> list[datetime]:
    """When each message is due; every queued message has a time."""
    times = [m.next_attempt_at for m in messages]
    assert None not in times
    return [t for t in times if t is not None]


def test_recipients_from_a_csv_use_the_phone_column_and_merge_duplicates():
    data = b"name,phone\nAna,+55 11 98888-0001\nBia,5511988880002\nAna again,5511988880001\n"
    assert campaigns.recipients_from_csv(data) == (["5511988880001", "5511988880002"], [])


def test_recipients_without_a_header_come_from_the_first_column_and_bad_ones_are_named():
    phones, invalid = campaigns.recipients_from_csv(b"5511988880001,x\nnot-a-phone,y\n")
    assert phones == ["5511988880001"] and invalid == ["not-a-phone"]


def test_a_campaign_refuses_values_that_are_not_phones(tenant, evolution_number):
    with pytest.raises(campaigns.CampaignError, match="Not phone numbers: 12"):
        campaigns.create_campaign(tenant, evolution_number, name="x", recipients=["12"], text="hi")


def test_a_campaign_refuses_another_tenants_number(other_tenant, evolution_number):
    with pytest.raises(campaigns.CampaignError, match="does not belong"):
        campaigns.create_campaign(
            other_tenant, evolution_number, name="x", recipients=["5511988880001"], text="hi"
        )


def make_campaign(tenant, number, count: int, delay: float = 2.0) -> Campaign:
    """A text campaign to `count` recipients."""
    return campaigns.create_campaign(
        tenant,
        number,
        name="Promo",
        text="Hello!",
        delay_seconds=delay,
        recipients=[f"55119888{i:05d}" for i in range(count)],
    )


def test_starting_queues_one_message_per_recipient_spaced_by_the_delay(tenant, evolution_number):
    campaign = make_campaign(tenant, evolution_number, 50)
    assert campaigns.start_campaign(campaign) == 50
    queued = list(campaign.messages.order_by("next_attempt_at"))
    assert [m.recipient for m in queued] == campaign.recipients
    gaps = {b - a for a, b in pairwise(due_times(queued))}
    assert gaps == {timedelta(seconds=2)}
    assert campaigns.progress(campaign)["queued"] == 50


def test_starting_twice_never_queues_a_recipient_twice(tenant, evolution_number):
    campaign = make_campaign(tenant, evolution_number, 5)
    campaigns.start_campaign(campaign)
    campaigns.pause_campaign(campaign)
    assert campaigns.start_campaign(campaign) == 0
    assert campaign.messages.count() == 5


def test_resuming_reschedules_what_is_left_from_now(tenant, evolution_number):
    campaign = make_campaign(tenant, evolution_number, 3, delay=60)
    campaigns.start_campaign(campaign)
    campaigns.pause_campaign(campaign)
    Message.objects.filter(campaign=campaign).update(next_attempt_at=None)
    campaigns.start_campaign(campaign)
    assert campaign.status == "running"
    times = sorted(due_times(campaign.messages.all()))
    assert times[1] - times[0] == timedelta(seconds=60)


def test_cancelling_fails_what_was_not_sent(tenant, evolution_number):
    campaign = make_campaign(tenant, evolution_number, 4)
    campaigns.start_campaign(campaign)
    assert campaigns.cancel_campaign(campaign) == 4
    assert set(campaign.messages.values_list("error_code", flat=True)) == {"campaign_cancelled"}
    with pytest.raises(campaigns.CampaignError):
        campaigns.start_campaign(campaign)


def test_a_campaign_completes_when_nothing_is_left_to_send(tenant, evolution_number):
    campaign = make_campaign(tenant, evolution_number, 2)
    campaigns.start_campaign(campaign)
    assert campaigns.complete_finished() == 0
    campaign.messages.update(status="sent")
    assert campaigns.complete_finished() == 1
    campaign.refresh_from_db()
    assert campaign.status == "completed" and campaign.finished_at
