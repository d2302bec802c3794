"""In a real browser: an owner creates an API key, sees it once, and revokes it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tenants.models import ApiKey
from tenants.services import create_tenant
from whatsapp_saas.tests.browser_live import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_key_is_created_shown_once_and_revoked(live_server, browser_page, screenshot_dir):
    tenant = create_tenant("Acme", owner_email="alice@acme.test", owner_password="pw-alice-123")
    page = browser_page
    sign_in(page, live_server.url, "alice@acme.test", "pw-alice-123")
    page.goto(f"{live_server.url}/t/{tenant.slug}/")
    page.click("a:text('Settings')")
    page.fill("input[name=name]", "CRM")
    page.check("input[value='messages:send']")
    page.check("input[value='messages:read']")
    page.click("#create-key button[type=submit]")
    raw = page.inner_text("#new-key-value").strip()
    key = ApiKey.objects.get(name="CRM")
    assert raw.startswith(f"wa_{key.prefix}_") and sorted(key.scopes) == [
        "messages:read",
        "messages:send",
    ]
    page.screenshot(path=str(screenshot_dir / "settings_key_shown_once_1280.png"), full_page=True)
    page.reload()
    assert page.locator("#new-key").count() == 0 and raw not in page.content()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/messages/").status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"tr[data-id='{key.pk}'] button.revoke")
    assert "revoked" in page.inner_text(f"tr[data-id='{key.pk}'] .key-state")
    assert api.get("/api/v1/messages/").status_code == 401
