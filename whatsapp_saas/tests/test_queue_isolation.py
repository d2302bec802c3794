"""A backlog on one queue never delays another: 1,000 failing webhook deliveries and a send.

Real worker processes per queue group, as docker-compose.yml runs them, on a Redis of the test's
own; the endpoints answer 500 slowly, so the notify workers stay busy for minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import Number
from messaging.models import Message
from notifications import services as notifications
from notifications.models import Delivery, Endpoint
from tenants.models import Tenant

from .processes import Celery, RedisServer, app_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
DELIVERIES = 1000
GROUPS = {"send": 1, "events": 1, "notify": 2, "maintenance": 1}  # queue: concurrency


class FailingEndpoint(ThreadingHTTPServer):
    """Answers every POST with a 500 after a pause, like a tenant's broken endpoint."""

    daemon_threads = True
    hits = 0

    def __init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(0.2)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        """Where the endpoint listens."""
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


@pytest.fixture
def failing_endpoint() -> Iterator[FailingEndpoint]:
    """A failing endpoint served from a thread of this process."""
    server = FailingEndpoint()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def send_and_time(api: APIClient, number: Number, text: str) -> tuple[float, Message]:
    """POST a text, wait until it is sent; seconds from the accepted answer to `sent`."""
    body = {"number": number.pk, "to": "5511977770000", "type": "text", "text": text}
    response = api.post("/api/v1/messages/", body, format="json")
    assert response.status_code == 202, response.content
    accepted = time.monotonic()
    message = Message.objects.get(pk=response.json()["id"])

    def sent() -> bool:
        message.refresh_from_db()
        return message.status != Message.Status.QUEUED

    wait_for(sent, 120, f"message {text!r} sent", every=0.02)
    assert message.status == Message.Status.SENT, message.error_code
    return time.monotonic() - accepted, message


def test_a_thousand_due_deliveries_to_failing_endpoints_do_not_delay_a_send(
    on_own_redis: RedisServer,
    tmp_path: Path,
    api: APIClient,
    linked: Number,
    sandbox: Any,
    tenant: Tenant,
    other_tenant: Tenant,
    failing_endpoint: FailingEndpoint,
) -> None:
    # The failing endpoint is local: listed, so deliveries are tried (and fail), not refused.
    receiver = failing_endpoint.url.split("//", 1)[1].split("/", 1)[0]
    env = app_env(on_own_redis.url, ALLOWED_INTERNAL_HOSTS=receiver)
    workers = [Celery.start_worker(tmp_path / f"{q}.log", env, q, c) for q, c in GROUPS.items()]
    try:
        for worker in workers:
            worker.wait_ready()
        idle, _ = send_and_time(api, linked, "with nothing else to do")
        endpoints = [
            Endpoint.objects.create(tenant=t, url=failing_endpoint.url)
            for t in (tenant, other_tenant)
        ]
        for i in range(DELIVERIES // len(endpoints)):
            for endpoint in endpoints:
                notifications.queue([endpoint], "message.status", {"n": i})
        wait_for(lambda: failing_endpoint.hits >= 4, 60, "the notify workers busy with the backlog")

        busy, message = send_and_time(api, linked, "behind 1,000 failing deliveries")

        untried = Delivery.objects.filter(endpoint__in=endpoints, attempts=0).count()
        waiting = on_own_redis.client().llen("notify")
        print(
            f"\naccept→sent: {idle:.3f} s idle, {busy:.3f} s behind the backlog "
            f"({untried} of {DELIVERIES} deliveries not yet tried, {waiting} tasks on `notify`, "
            f"endpoint hit {failing_endpoint.hits} times)"
        )
        # Causality, not a stopwatch: the send, posted after all 1,000 deliveries were due, was
        # sent while most of them still waited (on one FIFO queue it waited for every one).
        assert untried >= DELIVERIES / 2 and waiting >= DELIVERIES / 2
        assert message.sent_at is not None
        for worker in workers:
            assert not worker.exited(), worker.text()[-2000:]
    finally:
        for worker in workers:
            worker.stop()
