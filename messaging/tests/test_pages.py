"""Tenant inbox and conversation pages; campaign and message admin."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from messaging import campaigns, services
from messaging.models import Campaign, Conversation, Message
from providers.events import MessageReceived
from tenants.models import Membership
from tenants.services import find_or_create_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(evolution_number) -> Conversation:
    """Ana wrote to Acme's support number."""
    services.record_inbound(
        evolution_number,
        MessageReceived(
            provider="evolution",
            instance="acme-wa1",
            raw={},
            message_id="IN1",
            chat_id="5511977770000@s.whatsapp.net",
            push_name="Ana",
            text="Oi, tudo bem?",
        ),
    )
    return Conversation.objects.get()


def test_the_inbox_lists_conversations_with_unread_counts(member, tenant, conversation):
    html = member.get(f"/t/{tenant.slug}/inbox/").content.decode()
    assert "Ana" in html and '<span class="badge unread" >1</span>' in html
    assert "Oi, tudo bem?" in html


def test_opening_a_conversation_shows_it_and_marks_it_read(member, conversation):
    html = member.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "Oi, tudo bem?" in html
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_opening_a_read_conversation_again_writes_nothing(member, conversation):
    member.get(f"/conversations/{conversation.pk}/")
    with CaptureQueriesContext(connection) as queries:
        assert member.get(f"/conversations/{conversation.pk}/").status_code == 200
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert [w for w in writes if "messaging_" in w] == []


def test_a_reply_is_queued_through_the_pipeline_and_shows_a_tick(member, conversation):
    response = member.post(
        f"/conversations/{conversation.pk}/reply/", {"text": "Tudo ótimo!"}, follow=True
    )
    reply = Message.objects.get(direction="outbound")
    assert (reply.recipient, reply.text, reply.status) == ("5511977770000", "Tudo ótimo!", "queued")
    html = response.content.decode()
    assert "Tudo ótimo!" in html and 'data-status="queued"' in html and "#t-queued" in html


def test_another_tenants_conversation_is_a_404(conversation, other_tenant):
    user = find_or_create_user("x@globex.test", "pw-x-1234567")
    Membership.objects.create(user=user, tenant=other_tenant)
    client = Client()
    client.force_login(user)
    assert client.get(f"/conversations/{conversation.pk}/").status_code == 404
    assert client.post(f"/conversations/{conversation.pk}/reply/", {"text": "x"}).status_code == 404


def test_an_operator_creates_a_campaign_from_a_csv_and_starts_it(
    operator, tenant, evolution_number
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("list.csv", b"phone\n5511988880001\n5511988880002\n")
    response = operator.post(
        "/admin/messaging/campaign/add/",
        {
            "tenant": str(tenant.pk),
            "number": str(evolution_number.pk),
            "name": "Promo",
            "type": "text",
            "text": "Hello",
            "delay_seconds": "2",
            "recipients_text": "+55 11 98888-0003",
            "recipients_csv": upload,
        },
        follow=True,
    )
    assert response.status_code == 200
    campaign = Campaign.objects.get()
    assert campaign.recipients == ["5511988880003", "5511988880001", "5511988880002"]
    operator.post(
        "/admin/messaging/campaign/", {"action": "start", "_selected_action": [str(campaign.pk)]}
    )
    campaign.refresh_from_db()
    assert campaign.status == "running" and campaign.messages.count() == 3
    html = operator.get(f"/admin/messaging/campaign/{campaign.pk}/change/").content.decode()
    assert 'http-equiv="refresh"' in html and "queued 3" in html


def test_a_campaign_form_names_bad_recipients(operator, tenant, evolution_number):
    html = operator.post(
        "/admin/messaging/campaign/add/",
        {
            "tenant": str(tenant.pk),
            "number": str(evolution_number.pk),
            "name": "Promo",
            "type": "text",
            "text": "Hello",
            "delay_seconds": "2",
            "recipients_text": "12\nabc",
        },
    ).content.decode()
    assert "Not phone numbers: 12, abc" in html
    assert not Campaign.objects.exists()


def test_pausing_and_cancelling_from_the_admin(operator, tenant, evolution_number):
    campaign = campaigns.create_campaign(
        tenant, evolution_number, name="P", text="x", recipients=["5511988880001"]
    )
    for action, status in [("start", "running"), ("pause", "paused"), ("cancel", "cancelled")]:
        operator.post(
            "/admin/messaging/campaign/", {"action": action, "_selected_action": [str(campaign.pk)]}
        )
        campaign.refresh_from_db()
        assert campaign.status == status


def test_the_message_admin_filters_and_retries_failed_messages(operator, conversation):
    from messaging.outbox import queue_message

    message = queue_message(conversation.number, to="5511977770000", type="text", text="x")
    Message.objects.filter(pk=message.pk).update(status="failed", error_code="timeout")
    html = operator.get("/admin/messaging/message/?status__exact=failed").content.decode()
    assert "5511977770000" in html
    operator.post(
        "/admin/messaging/message/", {"action": "retry", "_selected_action": [str(message.pk)]}
    )
    message.refresh_from_db()
    assert message.status == "queued" and message.error_code == ""


def test_a_media_campaign_without_its_url_is_a_form_error_not_a_crash(
    operator, tenant, evolution_number
):
    response = operator.post(
        "/admin/messaging/campaign/add/",
        {
            "tenant": str(tenant.pk),
            "number": str(evolution_number.pk),
            "name": "Promo",
            "type": "image",
            "text": "Hello",
            "delay_seconds": "2",
            "recipients_text": "+55 11 98888-0003",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Required for media types." in html and "Use caption for media messages." in html
    assert not Campaign.objects.exists()
