"""Project-wide test fixtures: a small world of tenants, users and API keys; Redis isolation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from tenants.models import SCOPES, ApiKey, Tenant
from tenants.services import create_tenant, issue_api_key


@pytest.fixture(autouse=True)
def clean_redis() -> Iterator[None]:
    """Every test starts with an empty test Redis database (see settings/test.py)."""
    assert settings.REDIS_URL.endswith(f"/{settings.TEST_REDIS_DB}"), (
        "tests need their own Redis db"
    )
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Stored media files go to a temporary folder, never to var/media."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    return settings.MEDIA_ROOT


@pytest.fixture
def make_tenant(db: None) -> Callable[..., Tenant]:
    """Create tenants by name."""

    def make(name: str = "Acme", **kwargs: Any) -> Tenant:
        return create_tenant(name, **kwargs)

    return make


@pytest.fixture
def tenant(make_tenant: Callable[..., Tenant]) -> Tenant:
    """Tenant "Acme"."""
    return make_tenant("Acme")


@pytest.fixture
def other_tenant(make_tenant: Callable[..., Tenant]) -> Tenant:
    """Tenant "Globex", whose data Acme must never see."""
    return make_tenant("Globex")


@pytest.fixture
def make_key(db: None) -> Callable[..., tuple[ApiKey, str]]:
    """Issue API keys: make_key(tenant, scopes=[...]) → (key, raw)."""

    def make(tenant: Tenant, scopes: list[str] | None = None, **kwargs: Any) -> tuple[ApiKey, str]:
        return issue_api_key(tenant, "test", list(SCOPES) if scopes is None else scopes, **kwargs)

    return make


@pytest.fixture
def client_for() -> Callable[[str], APIClient]:
    """An API client sending `Authorization: Bearer <raw key>`."""

    def make(raw_key: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return client

    return make


@pytest.fixture
def api(
    tenant: Tenant,
    make_key: Callable[..., tuple[ApiKey, str]],
    client_for: Callable[[str], APIClient],
) -> APIClient:
    """An API client for Acme with every scope."""
    return client_for(make_key(tenant)[1])


@pytest.fixture
def evolution_number(tenant: Tenant) -> Any:
    """A connected Evolution number `acme-wa1`, made in the database (no provider involved)."""
    from instances.models import Number

    return Number.objects.create(
        tenant=tenant,
        name="Support",
        provider="evolution",
        instance_name="acme-wa1",
        provider_instance_id="acme-wa1",
        status="connected",
        phone_number="5511999999999",
    )


@pytest.fixture
def greenapi_number(tenant: Tenant) -> Any:
    """A connected GreenAPI number (idInstance 1101000001), made in the database."""
    from instances.models import Number

    return Number.objects.create(
        tenant=tenant,
        name="Sales",
        provider="greenapi",
        instance_name="acme-green",
        provider_instance_id="1101000001",
        status="connected",
        phone_number="5511999999999",
    )


@pytest.fixture
def our_message(evolution_number: Any) -> Any:
    """Our outbound message 3EB08EE8… to the customer, already sent."""
    from messaging.models import Contact, Conversation, Message

    contact = Contact.objects.create(tenant=evolution_number.tenant, phone="5511888888888")
    conversation = Conversation.objects.create(
        tenant=evolution_number.tenant, number=evolution_number, contact=contact
    )
    return Message.objects.create(
        tenant=evolution_number.tenant,
        number=evolution_number,
        conversation=conversation,
        direction="outbound",
        status="sent",
        provider_message_id="3EB08EE80DB4E276AFE85B",
    )


@pytest.fixture
def member(tenant: Tenant) -> Any:
    """A client signed in as a plain member of Acme, for the tenant pages."""
    from django.test import Client

    from tenants.models import Membership
    from tenants.services import find_or_create_user

    user = find_or_create_user("member@acme.test", "pw-member-123")
    Membership.objects.create(user=user, tenant=tenant, role="member")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner(tenant: Tenant) -> Any:
    """A client signed in as an owner of Acme: owners and admins act on numbers and keys."""
    from django.test import Client

    from tenants.models import Membership
    from tenants.services import find_or_create_user

    user = find_or_create_user("owner@acme.test", "pw-owner-123")
    Membership.objects.create(user=user, tenant=tenant, role="owner")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(db: None) -> Any:
    """A client signed in as a superuser, for admin pages."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw-op-123456")
    client = Client()
    client.force_login(user)
    return client


SANDBOX_KEY = "sandbox-test-global-key"


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Any]:
    """One sandbox provider (Evolution + GreenAPI over real HTTP) for the whole run."""
    from sandbox.testing import running_sandbox

    with running_sandbox(evolution_api_key=SANDBOX_KEY, seed=7) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: Any, settings: Any) -> Any:
    """The sandbox, emptied, with our provider settings pointing at it.

    Its host:port (and no other internal address) is allowed as a media URL, as in the local run.
    """
    sandbox_server.reset()
    settings.EVOLUTION_API_URL = settings.GREENAPI_API_URL = sandbox_server.base_url
    settings.ALLOWED_INTERNAL_HOSTS = [urlsplit(sandbox_server.base_url).netloc]
    settings.EVOLUTION_API_KEY = SANDBOX_KEY
    settings.GREENAPI_PARTNER_TOKEN = sandbox_server.sandbox.config.greenapi_partner_token
    return sandbox_server


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless Chromium page (Debian's chromium; never a downloaded browser)."""
    import os

    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # still synchronous, so Django's async-safety guard does not apply to them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        yield page
        browser.close()


@pytest.fixture
def screenshot_dir() -> Any:
    """Where browser tests save their screenshots (var/screenshots/, kept out of git)."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "var" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
