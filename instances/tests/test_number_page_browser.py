"""In a real browser: a tenant manages a number from its page; members only look."""

from __future__ import annotations

from typing import Any

import pytest

from instances import services
from instances.models import Number
from tenants.models import Membership
from tenants.services import create_tenant, find_or_create_user
from whatsapp_saas.tests.browser_live import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme(sandbox: Any) -> Any:
    """Acme with owner Alice, member Bob, and a number linked at the sandbox."""
    tenant = create_tenant("Acme", owner_email="alice@acme.test", owner_password="pw-alice-123")
    bob = find_or_create_user("bob@acme.test", "pw-bob-12345")
    Membership.objects.create(user=bob, tenant=tenant, role="member")
    number = services.connect(services.create_number(tenant, name="Support", provider="evolution"))
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    services.check_state(number)
    return tenant


def history(page: Any) -> list[str]:
    return [cell.strip() for cell in page.locator("#history td.change").all_inner_texts()]


def test_disconnect_reconnect_with_a_new_qr_and_delete_each_show_in_the_history(
    live_server, acme, browser_page, screenshot_dir
):
    number = Number.objects.get()
    page = browser_page
    sign_in(page, live_server.url, "alice@acme.test", "pw-alice-123")
    page.goto(f"{live_server.url}/t/{acme.slug}/numbers/")
    page.click(f"tr[data-id='{number.pk}'] a:text('Details')")
    assert page.inner_text("#status-badge") == "Connected"
    page.click("#disconnect")
    assert page.inner_text("#status-badge") == "Disconnected"
    assert history(page)[0] == "Connected → Disconnected"
    page.click("#reconnect")
    page.wait_for_selector("#qr-box:not([hidden]) img#qr[src^='data:image/png;base64,']")
    page.goto(f"{live_server.url}/numbers/{number.pk}/")
    assert history(page)[:2] == ["Disconnected → Waiting for scan", "Connected → Disconnected"]
    page.screenshot(path=str(screenshot_dir / "number_history_1280.png"), full_page=True)
    page.click("#delete")
    assert "cannot be undone" in page.inner_text("main")
    page.click("#confirm-delete")
    assert "Support was deleted" in page.inner_text(".flash")
    assert not Number.objects.exists()
    assert page.locator("#numbers").count() == 0


def test_a_member_sees_no_action_buttons_and_is_refused_when_posting(
    live_server, acme, browser_page
):
    number = Number.objects.get()
    page = browser_page
    sign_in(page, live_server.url, "bob@acme.test", "pw-bob-12345")
    page.goto(f"{live_server.url}/numbers/{number.pk}/")
    assert page.inner_text("#status-badge") == "Connected"
    for button in ("#actions", "#disconnect", "#reconnect", "#delete", "#save"):
        assert page.locator(button).count() == 0, button
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for action in ("disconnect", "reconnect", "delete", "edit"):
        response = page.request.post(
            f"{live_server.url}/numbers/{number.pk}/{action}/",
            headers={"X-CSRFToken": csrf, "Referer": live_server.url},
            form={"name": "Hacked"},
        )
        assert response.status == 403, action
        assert "Your role in this workspace does not allow this" in response.text()
    number.refresh_from_db()
    assert (number.status, number.name) == ("connected", "Support")


def test_a_wrong_greenapi_token_shows_a_field_error_and_creates_nothing(
    live_server, acme, sandbox, browser_page, screenshot_dir
):
    created = sandbox.create_greenapi_instance()
    page = browser_page
    sign_in(page, live_server.url, "alice@acme.test", "pw-alice-123")
    page.goto(f"{live_server.url}/t/{acme.slug}/numbers/add/")
    page.fill("input[name=name]", "Vendas")
    page.select_option("select[name=provider]", "greenapi")
    page.fill("input[name=greenapi_id_instance]", str(created["idInstance"]))
    page.fill("input[name=greenapi_api_token]", "not-the-token")
    with page.expect_navigation():
        page.click("#add-number button[type=submit]")
    errors = page.locator(".field-error").all_inner_texts()
    assert len(errors) == 2 and all("rejected these credentials" in e for e in errors)
    assert page.input_value("input[name=name]") == "Vendas"
    assert page.input_value("input[name=greenapi_id_instance]") == str(created["idInstance"])
    assert Number.objects.filter(provider="greenapi").count() == 0
    page.screenshot(path=str(screenshot_dir / "add_number_bad_token_1280.png"), full_page=True)
