"""Helpers for browser tests over a live server and the sandbox: sign in, a stand-in worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connections

from webhooks import tasks as webhook_tasks
from webhooks.models import WebhookEvent


def sign_in(page: Any, base_url: str, email: str, password: str) -> None:
    """Sign in through the login page."""
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/login/" not in page.url, "the sign-in failed"


def process_stored_webhooks() -> int:
    """What the events worker does: the real task on every stored event, in arrival order."""
    ids = list(
        WebhookEvent.objects.filter(status="received").order_by("id").values_list("pk", flat=True)
    )
    for event_id in ids:
        webhook_tasks.process_webhook_event(event_id)
    return len(ids)


class EventsWorker(threading.Thread):
    """Runs the events task on stored provider webhooks every 0.2 s, as the `events` worker does."""

    def __init__(self, also: Callable[[], Any] | None = None) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.also = also

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            process_stored_webhooks()
            if self.also is not None:
                self.also()
            connections.close_all()

    def __enter__(self) -> EventsWorker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join(10)


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    """Poll until the condition holds (webhooks arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def linked_world(live_server: Any, sandbox: Any, settings: Any) -> Iterator[dict[str, Any]]:
    """Alice owns Acme, whose Evolution number is linked at the sandbox and posts to us."""
    import asyncio

    from instances import services
    from instances.models import Number
    from tenants.services import create_tenant

    settings.PUBLIC_BASE_URL = live_server.url
    sandbox.settings(auto_receipts=False)
    tenant = create_tenant("Acme", owner_email="alice@acme.test", owner_password="pw-alice-123")
    number = services.connect(services.create_number(tenant, name="Support", provider="evolution"))
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    wait_for(lambda: process_stored_webhooks() >= 0 and Number.objects.get().is_connected)
    yield {"tenant": tenant, "number": Number.objects.get()}
    sandbox.reset()
    asyncio.run_coroutine_threadsafe(sandbox.sandbox.webhooks.close(), sandbox.loop).result(5)
