"""The live pages' change feed: new and changed rows after a cursor, 304 when nothing changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging import outbox, services
from messaging.models import Conversation, Message
from providers.events import MessageReceived

pytestmark = pytest.mark.django_db


def inbound(number, message_id: str, text: str, phone: str = "5511977770000", name: str = "Ana"):
    return services.record_inbound(
        number,
        MessageReceived(
            provider="evolution",
            instance=number.instance_name,
            raw={},
            message_id=message_id,
            chat_id=f"{phone}@s.whatsapp.net",
            push_name=name,
            text=text,
        ),
    )


@pytest.fixture
def since():
    return (timezone.now() - timedelta(minutes=1)).isoformat()


def test_a_new_message_and_a_status_change_come_through_the_feed(member, evolution_number, since):
    first = inbound(evolution_number, "IN1", "Oi")
    url = f"/conversations/{first.conversation_id}/feed/"
    body = member.get(url, {"since": since}).json()
    assert [(r["id"], r["text"], r["direction"]) for r in body["rows"]] == [
        (str(first.pk), "Oi", "inbound")
    ]
    reply = outbox.queue_message(evolution_number, to="5511977770000", type="text", text="Olá")
    rows = member.get(url, {"since": body["cursor"]}).json()["rows"]
    mine = next(r for r in rows if r["id"] == str(reply.pk))
    assert (mine["status"], mine["tick"], mine["label"]) == ("queued", "t-queued", "Queued")
    Message.objects.filter(pk=reply.pk).update(
        status="failed", error_message="Not on WhatsApp", updated_at=timezone.now()
    )
    rows = member.get(url, {"since": body["cursor"]}).json()["rows"]
    failed = next(r for r in rows if r["id"] == str(reply.pk))
    assert (failed["tick"], failed["error"]) == ("t-failed", "Not on WhatsApp")


def test_nothing_changed_is_a_304_with_an_empty_body(member, evolution_number, since):
    message = inbound(evolution_number, "IN1", "Oi")
    url = f"/conversations/{message.conversation_id}/feed/"
    first = member.get(url, {"since": since})
    again = member.get(url, {"since": first.json()["cursor"]}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    inbound(evolution_number, "IN2", "Tudo bem?")
    changed = member.get(url, {"since": first.json()["cursor"]}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert "Tudo bem?" in [r["text"] for r in changed.json()["rows"]]


def test_a_refresh_costs_the_user_lookup_and_one_feed_query(member, evolution_number, since):
    message = inbound(evolution_number, "IN1", "Oi")
    url = f"/conversations/{message.conversation_id}/feed/"
    member.get(url, {"since": since})  # the session is now cached
    with CaptureQueriesContext(connection) as queries:
        member.get(url, {"since": since})
    tables = [q["sql"].split(" FROM ")[1].split()[0] for q in queries.captured_queries]
    assert tables == ['"auth_user"', '"messaging_message"']


def test_another_tenants_conversation_never_changes_for_a_stranger(
    evolution_number, other_tenant, since
):
    from django.test import Client

    from tenants.models import Membership
    from tenants.services import find_or_create_user

    message = inbound(evolution_number, "IN1", "Oi")
    user = find_or_create_user("x@globex.test", "pw-x-1234567")
    Membership.objects.create(user=user, tenant=other_tenant)
    stranger = Client()
    stranger.force_login(user)
    body = stranger.get(f"/conversations/{message.conversation_id}/feed/", {"since": since}).json()
    assert body["rows"] == []


def test_a_missing_or_malformed_cursor_is_a_400(member, evolution_number):
    message = inbound(evolution_number, "IN1", "Oi")
    url = f"/conversations/{message.conversation_id}/feed/"
    assert member.get(url).status_code == 400
    assert member.get(url, {"since": "yesterday"}).status_code == 400


def test_the_inbox_feed_brings_new_conversations_with_a_preview(
    member, tenant, evolution_number, since
):
    inbound(evolution_number, "IN1", "Quero comprar", phone="5511911110000", name="Bia")
    rows = member.get(f"/t/{tenant.slug}/inbox/feed/", {"since": since}).json()["rows"]
    assert [(r["title"], r["subtitle"], r["preview"], r["unread"]) for r in rows] == [
        ("Bia", "+55 11 91111-0000", "Quero comprar", 1)
    ]
    outbox.queue_message(evolution_number, to="5511911110000", type="text", text="Claro!")
    rows = member.get(f"/t/{tenant.slug}/inbox/feed/", {"since": since}).json()["rows"]
    assert rows[-1]["preview"] == "You: Claro!"


def test_the_inbox_searches_by_name_or_phone_and_filters_by_number(
    member, tenant, evolution_number, greenapi_number
):
    inbound(evolution_number, "IN1", "a", phone="5511911110000", name="Bia")
    inbound(greenapi_number, "IN2", "b", phone="5521922220000", name="Caio")
    page = f"/t/{tenant.slug}/inbox/"
    html = member.get(page, {"q": "bia"}).content.decode()
    assert "Bia" in html and "Caio" not in html
    html = member.get(page, {"q": "+55 21 9222"}).content.decode()
    assert "Caio" in html and "Bia" not in html
    html = member.get(page, {"number": str(greenapi_number.pk)}).content.decode()
    assert "Caio" in html and "Bia" not in html


def test_a_new_chat_opens_an_empty_conversation_with_that_phone(member, tenant, evolution_number):
    response = member.post(
        f"/t/{tenant.slug}/inbox/",
        {"number": str(evolution_number.pk), "phone": "+55 11 95555-0000"},
    )
    convo = Conversation.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/conversations/{convo.pk}/"
    assert convo.contact.phone == "5511955550000" and convo.number == evolution_number
    bad = member.post(
        f"/t/{tenant.slug}/inbox/", {"number": str(evolution_number.pk), "phone": "12"}
    )
    assert bad.status_code == 400 and 'value="12"' in bad.content.decode()
