"""In a real browser: an open conversation and the inbox update by themselves; ticks climb."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from messaging import lanes
from messaging.models import Conversation, Message
from whatsapp_saas.tests.browser_live import (
    EventsWorker,
    linked_world,
    process_stored_webhooks,
    sign_in,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CUSTOMER = "5511977770000"


@pytest.fixture
def world(live_server: Any, sandbox: Any, settings: Any) -> Iterator[dict[str, Any]]:
    """Alice owns Acme, whose Evolution number is linked at the sandbox and posts to us."""
    yield from linked_world(live_server, sandbox, settings)


def test_an_inbound_message_appears_in_the_open_conversation_and_the_inbox(
    live_server, sandbox, world, browser_page, screenshot_dir
):
    number, tenant = world["number"], world["tenant"]
    sandbox.inbound(
        "evolution", number.instance_name, **{"from": CUSTOMER, "text": "Oi!", "pushName": "Ana"}
    )
    wait_for(lambda: process_stored_webhooks() >= 0 and Conversation.objects.exists())
    convo = Conversation.objects.get()
    page = browser_page
    sign_in(page, live_server.url, "alice@acme.test", "pw-alice-123")
    page.goto(f"{live_server.url}/conversations/{convo.pk}/")
    inbox = page.context.browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(inbox, live_server.url, "alice@acme.test", "pw-alice-123")
    inbox.goto(f"{live_server.url}/t/{tenant.slug}/inbox/")
    assert inbox.inner_text(f'.convo[data-id="{convo.pk}"] .convo-preview') == "Oi!"
    with EventsWorker():
        sandbox.inbound(
            "evolution", number.instance_name, **{"from": CUSTOMER, "text": "Vocês entregam hoje?"}
        )
        page.wait_for_selector(".bubble.inbound .text:text('Vocês entregam hoje?')", timeout=20000)
        inbox.wait_for_selector(".convo-preview:text('Vocês entregam hoje?')", timeout=20000)
        sandbox.inbound(
            "evolution",
            number.instance_name,
            **{"from": "5511966660000", "text": "Bom dia", "pushName": "Bia"},
        )
        inbox.wait_for_selector(".convo:first-child .convo-title:text('Bia')", timeout=20000)
    assert inbox.inner_text(".convo:first-child .unread") == "1"
    # The open conversation showed both of Ana's messages, so none of them is unread.
    wait_for(lambda: Conversation.objects.get(pk=convo.pk).unread_count == 0)
    page.screenshot(path=str(screenshot_dir / "live_conversation_1280.png"), full_page=True)
    inbox.screenshot(path=str(screenshot_dir / "live_inbox_1280.png"), full_page=True)
    inbox.close()
    page.goto("about:blank")


def test_a_reply_climbs_queued_sent_delivered_read_on_screen(
    live_server, sandbox, world, browser_page, screenshot_dir
):
    number = world["number"]
    sandbox.inbound("evolution", number.instance_name, **{"from": CUSTOMER, "text": "Oi!"})
    wait_for(lambda: process_stored_webhooks() >= 0 and Conversation.objects.exists())
    convo = Conversation.objects.get()
    page = browser_page
    sign_in(page, live_server.url, "alice@acme.test", "pw-alice-123")
    page.goto(f"{live_server.url}/conversations/{convo.pk}/")
    page.fill("textarea[name=text]", "Entregamos sim!")
    page.click("#reply button[type=submit]")
    page.wait_for_selector(".bubble.outbound .tick[data-status=queued]", timeout=20000)
    reply = Message.objects.get(direction="outbound")
    seen = ["queued"]
    with EventsWorker():
        assert lanes.run(reply.number_id).outcomes[str(reply.pk)] == "sent"
        page.wait_for_selector(".bubble.outbound .tick[data-status=sent]", timeout=20000)
        seen.append("sent")
        provider_id = Message.objects.get(pk=reply.pk).provider_message_id
        for status in ("delivered", "read"):
            sandbox.receipts(provider_id, [status])
            page.wait_for_selector(f".bubble.outbound .tick[data-status={status}]", timeout=20000)
            seen.append(status)
    assert seen == ["queued", "sent", "delivered", "read"]
    assert page.get_attribute(".bubble.outbound .tick use", "href") == "#t-double"
    page.screenshot(path=str(screenshot_dir / "live_ticks_read_1280.png"), full_page=True)
    page.goto("about:blank")
