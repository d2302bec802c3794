"""Helpers for flows over real HTTP: the sandbox provider posts webhooks to our live server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from instances import services
from instances.models import Number
from tenants.models import Tenant
from webhooks import tasks
from webhooks.models import WebhookEvent


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Poll until the condition holds (webhooks arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            names = list(WebhookEvent.objects.values_list("event_name", "status"))
            raise AssertionError(f"timed out; events so far: {names}")
        time.sleep(0.05)


def stored(number: Number, name: str, key_part: str = "", count: int = 1) -> Callable[[], bool]:
    """A condition: `count` events of that name (with that in their dedupe key) were stored."""
    return lambda: (
        WebhookEvent.objects.filter(
            number=number, event_name=name, dedupe_key__contains=key_part
        ).count()
        >= count
    )


def process_received() -> None:
    """What the worker does: the real task, for every stored event, in arrival order."""
    for event_id in (
        WebhookEvent.objects.filter(status="received").order_by("id").values_list("pk", flat=True)
    ):
        tasks.process_webhook_event(event_id)


def other_sessions() -> int:
    """Connections to the test database other than this thread's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.fixture
def live_numbers(
    live_server: Any, sandbox: Any, settings: Any, tenant: Tenant
) -> Iterator[Callable[..., Number]]:
    """Create numbers whose provider posts webhooks to our live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    before = other_sessions()

    def make(provider: str = "evolution") -> Number:
        extra: dict[str, str] = {}
        if provider == "greenapi":
            created = sandbox.create_greenapi_instance()
            extra = {
                "greenapi_id_instance": str(created["idInstance"]),
                "greenapi_api_token": created["apiTokenInstance"],
            }
        return services.create_number(tenant, name="Support", provider=provider, **extra)

    yield make
    # The sandbox's keep-alive connections keep live-server threads (and their database
    # connections) open: close them so the test database can be dropped at the end.
    sandbox.reset()
    asyncio.run_coroutine_threadsafe(sandbox.sandbox.webhooks.close(), sandbox.loop).result(5)
    wait_for(lambda: other_sessions() <= before)
