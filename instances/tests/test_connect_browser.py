"""A tenant links a number in a real browser: QR shown, phone scans, page turns "Connected"."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from instances import services, tasks
from tenants.services import create_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Beat(threading.Thread):
    """Runs the scan-polling task every second, as Celery beat does every 3 s in production."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1):
            tasks.poll_pending_numbers()
            connections.close_all()


def test_the_connect_page_turns_connected_with_the_phone_without_a_reload(
    live_server, sandbox, browser_page, screenshot_dir
):
    tenant = create_tenant("Acme", owner_email="alice@acme.test", owner_password="pw-alice-123")
    number = services.create_number(tenant, name="Support", provider="evolution")
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "alice@acme.test")
    page.fill("input[name=password]", "pw-alice-123")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/numbers/{number.pk}/connect/")
    page.click("#start-qr")
    page.wait_for_selector("#qr-box:not([hidden]) img#qr[src^='data:image/png;base64,']")
    assert page.is_visible("text=Link a device")
    page.screenshot(path=str(screenshot_dir / "connect_pending.png"), full_page=True)

    beat = Beat()
    beat.start()
    try:
        sandbox.scan(
            "evolution", number.instance_name, phone="5511988887777", profileName="Acme Support"
        )
        page.wait_for_selector("#connected:not([hidden])", timeout=20000)
    finally:
        beat.stopped.set()
        beat.join(5)
    assert page.is_hidden("#pending")
    assert page.inner_text("#connected-phone") == "+55 11 98888-7777"
    assert "Connected" in page.inner_text("#status-badge")
    page.screenshot(path=str(screenshot_dir / "connect_connected.png"), full_page=True)
