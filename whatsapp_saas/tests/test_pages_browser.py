"""Every tenant page in a real browser at 1280 and 390 px: screenshots, and no sideways scroll."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from instances import health, services
from instances.models import Number
from messaging import outbox
from messaging import services as messaging
from messaging.models import Conversation, Message, SendAttempt
from notifications.models import Delivery, Endpoint
from providers.events import ConnectionStatus as S
from providers.events import MessageReceived
from tenants.services import create_tenant, issue_api_key
from whatsapp_saas.tests.browser_live import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = (1280, 390)


def chat(number: Number) -> Conversation:
    """A conversation with one message of each kind and status, and a very long word."""
    for n, text in enumerate(
        ["Olá! Vocês entregam em Campinas?", "https://example.com/" + "x" * 120]
    ):
        messaging.record_inbound(
            number,
            MessageReceived(
                provider="evolution",
                instance=number.instance_name,
                raw={},
                message_id=f"IN{n}",
                chat_id="5511977770000@s.whatsapp.net",
                push_name="Ana Beatriz Cavalcanti de Albuquerque",
                text=text,
            ),
        )
    statuses = ["read", "delivered", "sent", "queued", "failed"]
    for status in statuses:
        message = outbox.queue_message(
            number, to="5511977770000", type="text", text=f"Resposta {status}"
        )
        Message.objects.filter(pk=message.pk).update(
            status=status,
            error_code="not_on_whatsapp" if status == "failed" else "",
            error_message="The recipient is not on WhatsApp." if status == "failed" else "",
        )
    return Conversation.objects.get(number=number)


@pytest.fixture
def acme(sandbox: Any) -> dict[str, Any]:
    """A workspace with a linked number, a paused one, one waiting for a scan, a chat and a key."""
    tenant = create_tenant("Acme", owner_email="alice@acme.test", owner_password="pw-alice-123")
    linked = services.connect(services.create_number(tenant, name="Support", provider="evolution"))
    sandbox.scan("evolution", linked.instance_name, phone="5511988887777", profileName="Acme")
    linked = services.check_state(linked)
    paused = Number.objects.create(
        tenant=tenant,
        name="Vendas e atendimento ao cliente — São Paulo",
        provider="greenapi",
        instance_name="acme-green",
        provider_instance_id="1101000001",
        status="connected",
        phone_number="5511966665555",
    )
    services.change_status(paused, S.PAUSED, "send_failures", "task")
    failing = outbox.queue_message(paused, to="5511955554444", type="text", text="Promoção")
    SendAttempt.objects.create(
        message=failing,
        started_at=timezone.now(),
        outcome="retry",
        provider_status_code=502,
        error_code="provider_unavailable",
        error_message="greenapi HTTP 502: Bad Gateway",
    )
    scanning = services.connect(
        services.create_number(tenant, name="Marketing", provider="evolution")
    )
    pairing = services.create_number(tenant, name="Pairing", provider="evolution")
    Number.objects.filter(pk=pairing.pk).update(
        status="qr_pending", pairing_code="WZYX1234", pairing_code_expires_at=timezone.now()
    )
    issue_api_key(tenant, "CRM integration", ["messages:send", "messages:read", "numbers:read"])
    # Created as a row: the test machine may resolve no public name.
    endpoint = Endpoint.objects.create(tenant=tenant, url="https://hooks.example.com/" + "wa/" * 30)
    Delivery.objects.create(
        endpoint=endpoint,
        event_type="ping",
        payload={},
        status="failed",
        attempts=8,
        last_error="ConnectTimeoutError: connection to hooks.example.com timed out after 5 s",
    )
    cache.set(
        health.CACHE_KEY,
        {"providers": {"greenapi": {"reachable": False, "response_time_ms": 0}}},
        600,
    )
    return {
        "tenant": tenant,
        "linked": linked,
        "paused": paused,
        "scanning": scanning,
        "pairing": pairing,
        "chat": chat(linked),
    }


def pages(acme: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, path) of every tenant page."""
    slug, linked, paused = acme["tenant"].slug, acme["linked"], acme["paused"]
    return [
        ("workspace", f"/t/{slug}/"),
        ("numbers", f"/t/{slug}/numbers/"),
        ("add_number", f"/t/{slug}/numbers/add/"),
        ("number_connected", f"/numbers/{linked.pk}/"),
        ("number_paused", f"/numbers/{paused.pk}/"),
        ("number_delete", f"/numbers/{linked.pk}/delete/"),
        ("connect_choose", f"/numbers/{paused.pk}/connect/"),
        ("connect_qr", f"/numbers/{acme['scanning'].pk}/connect/"),
        ("connect_pairing_form", f"/numbers/{paused.pk}/connect/?step=pairing"),
        ("connect_pairing_code", f"/numbers/{acme['pairing'].pk}/connect/"),
        ("inbox", f"/t/{slug}/inbox/"),
        ("conversation", f"/conversations/{acme['chat'].pk}/"),
        ("settings_keys", f"/t/{slug}/settings/keys/"),
        ("settings_webhooks", f"/t/{slug}/settings/webhooks/"),
        ("not_found", "/t/acme/nothing-here/"),
    ]


def test_every_tenant_page_fits_390_px_and_is_captured(
    live_server, acme, browser_page, screenshot_dir
):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/login/")
    page.screenshot(path=str(screenshot_dir / "page_login_390.png"), full_page=True)
    sign_in(page, live_server.url, "alice@acme.test", "pw-alice-123")
    too_wide: dict[str, int] = {}
    squeezed: dict[int, list[float]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
        for name, path in pages(acme):
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(screenshot_dir / f"page_{name}_{width}.png"), full_page=True)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if width == 390 and scroll > 390:
                too_wide[name] = scroll
            if name == "inbox":
                titles = page.eval_on_selector_all(
                    ".convo-title", "els => els.map(e => e.getBoundingClientRect().width)"
                )
                squeezed[width] = [w for w in titles if w < 80]
    assert too_wide == {}
    # A long number name beside a conversation must leave room for the contact's name.
    assert squeezed == {1280: [], 390: []}


def test_the_header_collapses_behind_a_menu_button_on_a_phone(
    live_server, acme, browser_page, screenshot_dir
):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "alice@acme.test", "pw-alice-123")
    page.goto(f"{live_server.url}/t/{acme['tenant'].slug}/numbers/")
    assert page.is_hidden("#topnav") and page.is_visible("#nav-toggle")
    page.click("#nav-toggle")
    assert page.is_visible("#topnav a:text('Inbox')") and page.is_visible("text=Log out")
    page.screenshot(path=str(screenshot_dir / "page_menu_open_390.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.is_visible("#topnav") and page.is_hidden("#nav-toggle")
