"""The acknowledgement: two statements, no secret decrypted, no Redis; processing woken once."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext

from instances.models import Number
from messaging.models import Message
from webhooks import routes, wake
from webhooks.fixtures import provider_headers
from webhooks.models import WebhookEvent

UPSERT = "messages_upsert__text"


@pytest.fixture
def route_cache(settings: Any) -> Iterator[None]:
    """The in-process route cache on, and empty before and after."""
    settings.WEBHOOK_ROUTE_CACHE_SECONDS = 60
    routes.forget_all()
    yield
    routes.forget_all()


def statements_of(queries: CaptureQueriesContext) -> list[str]:
    """The statements run, less the savepoints of the test's own transaction (prod: autocommit)."""
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


@pytest.mark.django_db
def test_an_authentic_delivery_costs_one_lookup_and_one_insert_and_reads_no_secret(
    deliver: Any, evolution_number: Number, fixture_for: Any, settings: Any
) -> None:
    settings.WEBHOOK_ROUTE_CACHE_SECONDS = 0
    payload = fixture_for(evolution_number, UPSERT)
    with CaptureQueriesContext(connection) as queries:
        assert deliver(evolution_number, payload).status_code == 200
    statements = statements_of(queries)
    assert len(statements) == 2
    assert statements[0].startswith("SELECT") and "webhook_token_hash" in statements[0]
    assert statements[1].startswith("INSERT") and "ON CONFLICT" in statements[1]
    # Only the hashes are read: the encrypted secret columns are never selected.
    assert '"webhook_secret"' not in statements[0]
    assert WebhookEvent.objects.get().status == "received"


@pytest.mark.django_db
def test_with_the_route_cache_a_repeat_costs_only_the_insert(
    deliver: Any, evolution_number: Number, fixture_for: Any, route_cache: None
) -> None:
    payload = fixture_for(evolution_number, UPSERT)
    deliver(evolution_number, payload)
    with CaptureQueriesContext(connection) as queries:
        assert deliver(evolution_number, payload).status_code == 200
    assert [sql[:6] for sql in statements_of(queries)] == ["INSERT"]
    assert WebhookEvent.objects.get().duplicates == 1


@pytest.mark.django_db
def test_a_rotated_secret_is_accepted_at_once_even_with_a_cached_route(
    deliver: Any, evolution_number: Number, fixture_for: Any, route_cache: None
) -> None:
    deliver(evolution_number, fixture_for(evolution_number, UPSERT))
    evolution_number.previous_webhook_secret = evolution_number.webhook_secret
    evolution_number.webhook_secret = "rotated-secret"
    evolution_number.save()
    other = fixture_for(evolution_number, "messages_upsert__from_me")
    assert deliver(evolution_number, other).status_code == 200
    assert WebhookEvent.objects.count() == 2
    refused = deliver(
        evolution_number, other, headers=provider_headers(evolution_number, b"", secret="stale")
    )
    assert refused.status_code == 403


# Foreign keys are checked at commit: only autocommit, as in production, shows the insert failing.
@pytest.mark.django_db(transaction=True)
def test_a_number_deleted_behind_a_cached_route_is_unknown(
    deliver: Any, evolution_number: Number, fixture_for: Any, route_cache: None
) -> None:
    deliver(evolution_number, fixture_for(evolution_number, UPSERT))
    WebhookEvent.objects.all().delete()
    Number.objects.filter(pk=evolution_number.pk).delete()
    response = deliver(evolution_number, fixture_for(evolution_number, "messages_upsert__from_me"))
    assert response.status_code == 200 and not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_signed_delivery_is_checked_against_the_decrypted_secret(
    deliver: Any, evolution_number: Number, fixture_for: Any
) -> None:
    assert (
        deliver(evolution_number, fixture_for(evolution_number, UPSERT), sign=True).status_code
        == 200
    )


@pytest.mark.django_db
def test_a_burst_of_deliveries_wakes_processing_once_per_window(
    deliver: Any, evolution_number: Number, fixture_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[float] = []
    monkeypatch.setattr(wake, "publish", lambda: published.append(time.monotonic()))
    waker = wake.Waker(window=60)
    monkeypatch.setattr(wake, "waker", waker)
    for n in range(20):
        waker.poke()
        assert n or wait_until(lambda: len(published) == 1)
    time.sleep(0.2)
    assert len(published) == 1  # the other 19 pokes wait for the window to end


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    """Poll until condition() holds; False after `seconds` (a bound, never a speed check)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# ------------------------------------------------------------------ Redis down


class OwnRedis:
    """A redis-server of our own on a free port, which the test may stop and start again."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        assert wait_until(self.answers, 10), "redis-server did not start"

    def stop(self) -> None:
        """Stop it (by its own pid) and wait until it is gone."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def answers(self) -> bool:
        """It accepts connections."""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return False
        return True


def point_celery_at(url: str) -> None:
    """Make the Celery app publish to and consume from `url` from now on."""
    app: Any = current_app
    app.conf.broker_url = url
    # Forget (without closing: kombu shares them per URL) the pools made for the old URL.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def own_redis(settings: Any) -> Iterator[OwnRedis]:
    """Django's cache and Celery pointed at a Redis this test starts and stops."""
    server = OwnRedis()
    server.start()
    saved = current_app.conf.broker_url
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": server.url},
    }
    settings.CELERY_BROKER_URL = settings.REDIS_URL = server.url
    point_celery_at(server.url)
    try:
        yield server
    finally:
        server.stop()
        point_celery_at(saved)


@pytest.mark.django_db(transaction=True)
def test_ingest_answers_and_stores_while_redis_is_down_and_processing_follows_its_return(
    deliver: Any,
    evolution_number: Number,
    fixture_for: Any,
    own_redis: OwnRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from celery.contrib.testing.worker import start_worker

    own_redis.stop()
    assert not own_redis.answers()
    payload = fixture_for(evolution_number, UPSERT)
    response = deliver(evolution_number, payload)
    assert response.status_code == 200 and response.json() == {"ok": True}
    event = WebhookEvent.objects.get()
    assert event.status == "received"
    assert json.loads(bytes(event.body)) == payload
    # The wake-up failed (and is kept for later) before Redis comes back.
    assert wait_until(lambda: "cannot wake event processing" in caplog.text)

    own_redis.start()
    queue = current_app.amqp.router.route({}, wake.PROCESS_PENDING)["queue"].name
    with start_worker(current_app, perform_ping_check=False, queues=[queue]):
        assert wait_until(lambda: WebhookEvent.objects.get().status == "processed")
    assert Message.objects.get().provider_message_id == payload["data"]["key"]["id"]
