"""Helpers for browser tests over a live server and the sandbox: sign in, a stand-in worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
