"""In a real browser: an owner adds a webhook endpoint, sees its secret once and tests it."""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks import Webhook

from notifications import delivery
from notifications.models import Delivery, Endpoint
from sandbox.testing import WebhookReceiver
from tenants.services import create_tenant
from whatsapp_saas.tests.browser_live import EventsWorker, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def deliver_due() -> None:
    """What the notify worker does: post every pending delivery."""
    for pk in Delivery.objects.filter(status=Delivery.Status.PENDING).values_list("pk", flat=True):
        delivery.deliver(str(pk))


def test_an_endpoint_is_created_and_tested_and_its_answer_shows_without_a_reload(
    live_server: Any, browser_page: Any, screenshot_dir: Any, receiver: WebhookReceiver
) -> None:
    tenant = create_tenant("Acme", owner_email="alice@acme.test", owner_password="pw-alice-123")
    page = browser_page
    sign_in(page, live_server.url, "alice@acme.test", "pw-alice-123")
    page.goto(f"{live_server.url}/t/{tenant.slug}/settings/keys/")
    page.click("#settings-webhooks")
    page.fill("input[name=url]", "https://10.0.0.8/internal")
    page.click("#create-endpoint button[type=submit]")
    assert "not a public address" in page.inner_text("#url-error")
    page.fill("input[name=url]", receiver.url)
    page.uncheck("input[value='message.updated']")
    page.click("#create-endpoint button[type=submit]")
    secret = page.inner_text("#new-secret-value").strip()
    endpoint = Endpoint.objects.get(tenant=tenant)
    assert secret == endpoint.secret and "message.updated" not in endpoint.event_types
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(screenshot_dir / f"settings_webhooks_secret_{width}.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    assert page.locator("#new-secret").count() == 0 and secret not in page.content()
    with EventsWorker(also=deliver_due):
        page.click(f"#endpoint-{endpoint.pk} button.test")
        answer = page.locator(f"#endpoint-{endpoint.pk} .delivery-code")
        answer.filter(has_text="HTTP 200").wait_for(timeout=15000)
    sent = receiver.received[0]
    assert Webhook(secret).verify(sent.raw, dict(sent.headers))["type"] == "ping"
    assert "delivered" in page.inner_text(f"#endpoint-{endpoint.pk} .delivery-state")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(
            path=str(screenshot_dir / f"settings_webhooks_tested_{width}.png"), full_page=True
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"#endpoint-{endpoint.pk} button.delete")
    page.wait_for_selector("text=was deleted")
    assert not Endpoint.objects.exists()
