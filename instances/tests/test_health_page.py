"""The operator health page: figures of the last hour and day and their charts, from seeded rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from instances.models import ConnectionEvent, Number
from messaging.models import Contact, Conversation, Message, SendAttempt
from tenants.models import Tenant
from webhooks.models import WebhookEvent
from whatsapp_saas import stats

URL = "/admin/instances/number/health/"


def seed(tenant: Tenant) -> dict[str, Any]:
    """Numbers, a scan, disconnects, sends, receives and webhook events in the last hour."""
    now = timezone.now()
    numbers = [
        Number.objects.create(
            tenant=tenant,
            name=f"Line {i}",
            provider="evolution",
            instance_name=f"acme-{i}",
            status=status,
        )
        for i, status in enumerate(["connected", "connected", "connected", "disconnected"])
    ]
    flaky = numbers[0]
    for minutes in (50, 40, 30):
        event = ConnectionEvent.objects.create(
            number=flaky, from_status="connected", to_status="connecting", source="webhook"
        )
        ConnectionEvent.objects.filter(pk=event.pk).update(at=now - timedelta(minutes=minutes))
    for number, seconds in ((numbers[1], 40), (numbers[2], 80)):
        shown = ConnectionEvent.objects.create(
            number=number, from_status="disconnected", to_status="qr_pending", source="api"
        )
        done = ConnectionEvent.objects.create(
            number=number, from_status="qr_pending", to_status="connected", source="webhook"
        )
        ConnectionEvent.objects.filter(pk=shown.pk).update(at=now - timedelta(seconds=seconds + 60))
        ConnectionEvent.objects.filter(pk=done.pk).update(at=now - timedelta(seconds=60))
    contact = Contact.objects.create(tenant=tenant, phone="5521977776666")
    chat = Conversation.objects.create(tenant=tenant, number=flaky, contact=contact)
    for i in range(10):
        outbound = Message.objects.create(
            tenant=tenant, number=flaky, conversation=chat, direction="outbound", status="sent"
        )
        SendAttempt.objects.create(
            message=outbound,
            started_at=now - timedelta(minutes=i * 3),
            outcome="failed" if i == 0 else "sent",
        )
    for _ in range(4):
        Message.objects.create(
            tenant=tenant, number=flaky, conversation=chat, direction="inbound", status="received"
        )
    for i in range(9):
        WebhookEvent.objects.create(
            provider="evolution",
            number=flaky,
            tenant=tenant,
            body=b"{}",
            dedupe_key=f"k{i}",
            duplicates=1 if i == 0 else 0,
            status="processed",
            received_at=now - timedelta(minutes=5),
        )
    stats.count("webhook_unknown_token")
    return {"flaky": flaky}


def figures_table(html: str) -> str:
    """The figures table's markup."""
    return html.split('id="ops-figures"', 1)[1].split("</table>", 1)[0]


@pytest.mark.django_db
def test_the_health_page_shows_the_last_hour_s_figures(tenant: Tenant, operator: Any) -> None:
    seeded = seed(tenant)
    html = operator.get(URL).content.decode()
    table = figures_table(html)
    # 9 sent of 10 calls; 4 receives; 1 duplicate of 11 deliveries; 1 unknown token.
    assert "90.0 %" in table and "(9 sent, 1 failed)" in table
    assert "9.09 %" in table
    assert "60.0 s / 78.0 s" in table
    assert "<svg" in html and "Sends and receives per minute, last hour" in html
    assert "Numbers by status" in html and "<title>connected: 3</title>" in html
    unstable = html.split('id="ops-unstable"', 1)[1].split("</table>", 1)[0]
    assert seeded["flaky"].name in unstable and ">3</td>" in unstable


@pytest.mark.django_db
def test_the_health_page_is_for_operators_only(tenant: Tenant, client: Any) -> None:
    user = get_user_model().objects.create_user("alice", "a@example.com", "pw-alice-123")
    client.force_login(user)
    assert client.get(URL).status_code == 302


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_health_page_renders_its_charts_in_a_browser(
    live_server: Any, browser_page: Any, screenshot_dir: Any, tenant: Tenant
) -> None:
    seed(tenant)
    get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456")
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/login/?next={URL}")
    page.fill("input[name=username]", "ops")
    page.fill("input[name=password]", "pw-ops-123456")
    page.click("input[type=submit]")
    page.wait_for_selector("#ops-figures")
    assert page.locator("figure.chart svg").count() == 3
    assert page.locator("figure.chart svg rect").count() > 0
    box = page.locator("figure.chart svg").first.bounding_box()
    assert box is not None and box["width"] > 300
    page.screenshot(path=str(screenshot_dir / "health_1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("#ops-figures")
    narrow = page.locator("figure.chart svg").first.bounding_box()
    assert narrow is not None and narrow["width"] <= 390
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(screenshot_dir / "health_390.png"), full_page=True)
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 390 px"
