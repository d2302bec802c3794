"""/metrics after real activity: a scan, sends, webhooks over HTTP, deliveries, a disconnect.

Nothing here calls whatsapp_saas.metrics: the sandbox provider posts its webhooks to our live
server, workers' code (lanes, event processing, deliveries) runs as the tasks run it, and every
figure the scrape shows is checked against what our tables say happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from instances import services
from instances.models import Number
from messaging import lanes, outbox, sending
from messaging.models import Message, SendLane
from messaging.pacing import limiter
from messaging.tests.fixtures import Crash
from notifications import delivery
from notifications.models import Delivery
from sandbox.testing import WebhookReceiver
from webhooks import fixtures
from webhooks.models import WebhookEvent
from webhooks.tests.flow import live_numbers, process_received, stored, wait_for
from whatsapp_saas import stats

from .test_metrics import TOKEN, Samples, samples, value

__all__ = ["live_numbers"]

pytestmark = pytest.mark.django_db(transaction=True)
EVO = {"provider": "evolution"}


def total(found: Samples, name: str, **labels: str) -> float:
    """The sum of every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


class Scrapes:
    """Scrapes compared with the one taken at the start."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.before = samples(client)
        self.now = self.before

    def take(self) -> Scrapes:
        """Scrape again."""
        self.now = samples(self.client)
        return self

    def delta(self, name: str, **labels: str) -> float:
        """How much `name` (summed over labels not given) grew since the start."""
        return total(self.now, name, **labels) - total(self.before, name, **labels)

    def until(self, expected: Callable[[], dict[str, float]], got: Callable[[], dict[str, float]]):
        """Scrape until the counters agree with our tables (webhooks arrive asynchronously)."""
        deadline = time.monotonic() + 10
        while True:
            process_received()
            self.take()
            want, have = expected(), got()
            if want == have or time.monotonic() > deadline:
                assert have == want
                return
            time.sleep(0.1)


def post(live_server: Any, path: str, body: bytes, headers: dict[str, str]) -> int:
    """POST a webhook to the live server, as a provider would."""
    headers = {"Content-Type": "application/json", **headers}
    return requests.post(
        f"{live_server.url}{path}", data=body, headers=headers, timeout=10
    ).status_code


def logged_out(number: Number) -> bool:
    """Process what arrived; whether the number is logged out now."""
    process_received()
    return Number.objects.filter(pk=number.pk, status="logged_out").exists()


def send_all(number: Number) -> lanes.Run:
    """Run the number's lane once, as a wake-up would."""
    return lanes.run(number.pk)


@pytest.fixture
def receiver(sandbox: Any, settings: Any) -> Any:
    """A tenant's endpoint on this machine, allowed next to the sandbox."""
    with WebhookReceiver() as server:
        settings.ALLOWED_INTERNAL_HOSTS = [
            urlsplit(sandbox.base_url).netloc,
            f"127.0.0.1:{server.port}",
        ]
        yield server


def test_the_scrape_shows_a_scan_sends_webhooks_deliveries_and_a_disconnect_as_they_happened(
    live_numbers: Any,
    live_server: Any,
    sandbox: Any,
    settings: Any,
    receiver: WebhookReceiver,
    client_for: Any,
    make_key: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.METRICS_TOKEN = TOKEN
    sandbox.settings(auto_receipts=False)
    client = Client()
    scrape = Scrapes(client)
    number = services.connect(live_numbers())
    api = client_for(make_key(number.tenant)[1])
    assert (
        api.post("/api/v1/webhook-endpoints/", {"url": receiver.url}, format="json").status_code
        == 201
    )

    # A scan: the QR was shown 42 s ago; the provider's connection.update webhook connects it.
    Number.objects.filter(pk=number.pk).update(
        connect_started_at=timezone.now() - timedelta(seconds=42)
    )
    sandbox.scan("evolution", number.instance_name, phone="5511988887777")
    wait_for(stored(number, "connection.update", ":open:"))
    process_received()
    number.refresh_from_db()
    assert number.status == "connected"
    scrape.take()
    assert scrape.delta("wa_qr_scan_seconds_count", **EVO) == 1
    assert 42 <= scrape.delta("wa_qr_scan_seconds_sum", **EVO) < 60
    assert value(scrape.now, "wa_numbers", provider="evolution", status="connected") == 1

    # A send queued through the API waits in the send queue until its lane runs.
    Number.objects.filter(pk=number.pk).update(send_rate_per_minute=1)
    limiter(settings.REDIS_URL).reset(str(number.pk))
    queued = api.post(
        "/api/v1/messages/",
        {"number": str(number.pk), "to": "5511900000001", "type": "text", "text": "one"},
        format="json",
    )
    assert queued.status_code == 202
    ninety_ago = timezone.now() - timedelta(seconds=90)
    Message.objects.filter(pk=queued.json()["id"]).update(
        created_at=ninety_ago, next_attempt_at=ninety_ago
    )
    scrape.take()
    assert value(scrape.now, "wa_queue_depth", queue="send") == 1
    assert 90 <= value(scrape.now, "wa_queue_oldest_due_age_seconds", queue="send") < 120

    # Its worker dies during the provider call; the send echo webhook shows it was sent.
    call = sending.call_provider

    def dying(message: Message) -> Any:
        monkeypatch.setattr(sending, "call_provider", call)
        call(message)
        raise Crash

    monkeypatch.setattr(sending, "call_provider", dying)
    with pytest.raises(Crash):
        send_all(number)
    SendLane.objects.filter(pk=number.pk).update(leased_until=timezone.now())
    wait_for(stored(number, "send.message"))
    process_received()
    assert send_all(number).outcomes == {queued.json()["id"]: "sent"}

    # Four more at one a minute: the limiter's burst lets some leave, then one waits its slot.
    for i in range(4):
        outbox.queue_message(number, to=f"551190000001{i}", type="text", text=f"more {i}")
    outcomes = [str(o) for o in send_all(number).outcomes.values()]
    assert outcomes[-1] == "paced" and set(outcomes[:-1]) == {"sent"}, outcomes
    scrape.take()
    assert scrape.delta("wa_sends_total", outcome="sent", **EVO) == len(outcomes) - 1
    assert scrape.delta("wa_send_duplicates_prevented_total", **EVO) == 1
    assert scrape.delta("wa_send_pacing_waits_total", **EVO) == 1
    assert 50 <= scrape.delta("wa_send_pacing_wait_seconds_sum", **EVO) <= 61
    assert value(scrape.now, "wa_queue_depth", queue="send") == 5 - len(outcomes)

    # Provider webhooks over HTTP: a message twice, a wrong secret, an unknown token, not JSON.
    path = fixtures.webhook_path(number)
    upsert = fixtures.addressed_to(
        number, fixtures.load_fixture("evolution", "messages_upsert__text")
    )
    body = json.dumps(upsert).encode()
    headers = fixtures.provider_headers(number, body)
    assert post(live_server, path, body, headers) == 200
    assert post(live_server, path, body, headers) == 200
    assert (
        post(live_server, path, body, fixtures.provider_headers(number, body, secret="x" * 32))
        == 403
    )
    assert post(live_server, "/webhooks/evolution/no-such-token/", body, headers) == 200
    assert post(live_server, path, b"[not json", headers) == 400

    # The provider logs the number out: a disconnect.
    sandbox.control(
        "POST", f"/evolution/instances/{number.instance_name}/disconnect", {"reason": "logged_out"}
    )
    wait_for(lambda: logged_out(number))

    events = WebhookEvent.objects.filter(number=number)

    def from_tables() -> dict[str, float]:
        malformed = events.filter(event_name="", status="failed")
        accepted = events.count() - malformed.count()
        duplicates = events.aggregate(n=Sum("duplicates"))["n"]
        processed = events.filter(status="processed").count()
        ignored = events.filter(status="ignored").count()
        return {
            "accepted": accepted,
            "duplicate": duplicates,
            "refused": 1,
            "unknown_token": 1,
            "invalid": malformed.count(),
            "acks": accepted + duplicates + 3,
            "processed": processed,
            "ignored": ignored,
            "lag": processed + ignored,
        }

    def from_scrape() -> dict[str, float]:
        name = "wa_webhook_deliveries_total"
        found = {
            o: scrape.delta(name, outcome=o, **EVO)
            for o in from_tables()
            if o not in ("acks", "processed", "ignored", "lag")
        }
        found["acks"] = scrape.delta("wa_webhook_ack_seconds_count", **EVO)
        for outcome in ("processed", "ignored"):
            found[outcome] = scrape.delta(
                "wa_webhook_events_processed_total", outcome=outcome, **EVO
            )
        found["lag"] = scrape.delta("wa_webhook_event_lag_seconds_count", **EVO)
        return found

    scrape.until(from_tables, from_scrape)
    assert from_tables()["duplicate"] >= 1 and from_tables()["processed"] >= 4
    assert scrape.delta("wa_webhook_events_processed_total", event_type="message_received") == 1
    assert scrape.delta("wa_number_disconnects_total", reason="logged_out", **EVO) == 1
    assert value(scrape.now, "wa_numbers", provider="evolution", status="logged_out") == 1
    assert value(scrape.now, "wa_numbers", provider="evolution", status="connected") == 0
    # Refusals and unknown tokens leave no row: the health page reads them from Redis.
    assert stats.total("webhook_refused", 5) == 1
    assert stats.total("webhook_unknown_token", 5) == 1

    # The tenant's endpoint gets the number's status changes and the messages, as a worker runs.
    pending = list(Delivery.objects.filter(status="pending").values_list("pk", flat=True))
    assert pending
    outcomes = [delivery.deliver(str(pk)) for pk in pending]
    scrape.take()
    delivered = Delivery.objects.filter(status="delivered").count()
    assert outcomes.count("delivered") == delivered == len(pending)
    assert scrape.delta("wa_tenant_webhook_deliveries_total", outcome="delivered") == delivered
