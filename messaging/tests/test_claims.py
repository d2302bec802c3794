"""Claims, leases, the sweep and pacing: nothing sent twice, nothing lost, the rate held."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from instances.models import Number
from messaging import outbox, sending
from messaging.models import Campaign, Message

from .fixtures import make_due, sent_at_provider


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Sends handed to Celery, as (message id, countdown), instead of a broker."""
    calls: list[tuple[str, float]] = []
    monkeypatch.setattr(
        outbox, "enqueue", lambda message_id, countdown: calls.append((message_id, countdown))
    )
    return calls


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_message_send_it_once(queue, sandbox):
    message, racers = queue(), 8
    start = threading.Barrier(racers)

    def work(_: int) -> str:
        try:
            start.wait()
            return sending.send(str(message.pk))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = list(pool.map(work, range(racers)))
    assert sorted(outcomes) == ["sent"] + ["skipped"] * (racers - 1)
    assert len(sent_at_provider(sandbox)) == 1
    message.refresh_from_db()
    assert message.attempts == 1 and message.send_attempts.count() == 1


@pytest.mark.django_db
def test_a_worker_that_dies_after_its_claim_loses_nothing(queue, sandbox, enqueued):
    message = queue()
    assert sending.claim(str(message.pk)) is not None  # ... and the worker is killed here
    assert sending.send(str(message.pk)) == "skipped"
    assert outbox.sweep()["enqueued"] == 0 and enqueued == []
    make_due(message)  # the lease runs out
    assert outbox.sweep()["enqueued"] == 1 and enqueued[0][0] == str(message.pk)
    assert sending.send(str(message.pk)) == "sent"
    assert len(sent_at_provider(sandbox)) == 1


@pytest.mark.django_db
def test_the_lease_outlasts_a_provider_call(settings):
    settings.SEND_LEASE_SECONDS = 1
    call = settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT
    assert outbox.lease_time() > timedelta(seconds=call)


@pytest.mark.django_db
def test_a_write_after_the_lease_was_taken_over_changes_nothing(queue):
    message = queue()
    first = sending.claim(str(message.pk))
    make_due(message)
    second = sending.claim(str(message.pk))
    assert first and second and sending.held(first).update(attempts=9) == 0
    assert sending.held(second).update(attempts=1) == 1


@pytest.mark.django_db
def test_the_sweep_enqueues_due_messages_once_per_grace_period(linked, queue, enqueued):
    soon, later = queue("soon"), queue("later", not_before=timezone.now() + timedelta(minutes=5))
    assert outbox.sweep()["enqueued"] == 1 and [i for i, _ in enqueued] == [str(soon.pk)]
    assert outbox.sweep()["enqueued"] == 0
    assert later.next_attempt_at > timezone.now()


@pytest.mark.django_db
def test_the_sweep_skips_numbers_not_connected_and_paused_campaigns(linked, queue, enqueued):
    campaign = Campaign.objects.create(
        tenant=linked.tenant, number=linked, name="P", status="paused"
    )
    queue("held", campaign=campaign)
    Number.objects.filter(pk=linked.pk).update(status="disconnected")
    queue("waiting")
    assert outbox.sweep()["enqueued"] == 0
    Number.objects.filter(pk=linked.pk).update(status="connected")
    assert outbox.sweep()["enqueued"] == 1


@pytest.mark.django_db
def test_the_sweep_expires_overdue_messages_but_not_a_claimed_one(queue, enqueued):
    overdue, claimed = queue("overdue"), queue("claimed")
    assert sending.claim(str(claimed.pk))
    Message.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert outbox.sweep()["expired"] == 1
    overdue.refresh_from_db()
    claimed.refresh_from_db()
    assert (overdue.status, overdue.error_code) == ("failed", "expired")
    assert claimed.status == "queued"


@pytest.mark.django_db
def test_a_new_message_is_enqueued_after_commit_and_a_later_one_by_the_sweep(
    linked, django_capture_on_commit_callbacks, enqueued
):
    with django_capture_on_commit_callbacks(execute=True):
        now_msg = outbox.queue_message(linked, to="5511888888888", type="text", text="now")
        outbox.queue_message(
            linked,
            to="5511888888888",
            type="text",
            text="tomorrow",
            not_before=timezone.now() + timedelta(hours=2),
        )
    assert [i for i, _ in enqueued] == [str(now_msg.pk)]


@pytest.mark.django_db
def test_messages_over_the_rate_wait_in_line_one_interval_apart(linked, queue, sandbox, enqueued):
    Number.objects.filter(pk=linked.pk).update(send_rate_per_minute=60)
    messages = [queue(f"m{i}") for i in range(5)]
    outcomes = [sending.send(str(m.pk)) for m in messages]
    assert outcomes == ["sent"] * 3 + ["paced"] * 2  # the default burst is 3
    waits = []
    for m in messages[3:]:
        m.refresh_from_db()
        waits.append((m.next_attempt_at - timezone.now()).total_seconds())
    assert 0.5 < waits[0] <= 1.05 and 0.9 < waits[1] - waits[0] < 1.1
    assert len(sent_at_provider(sandbox)) == 3


WORKER = textwrap.dedent("""
    import os, sys, time
    import django
    django.setup()
    from django.conf import settings
    from messaging import sending
    from messaging.models import Message
    settings.DATABASES["default"]["NAME"] = sys.argv[1]
    ids, deadline = sys.argv[2].split(","), time.time() + 30
    while time.time() < deadline and Message.objects.filter(pk__in=ids, status="queued").exists():
        for message_id in ids:
            sending.send(message_id)
        time.sleep(0.02)
""")


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_sending_one_numbers_queue_hold_its_rate(linked, queue, sandbox):
    per_minute, count = 240, 14
    Number.objects.filter(pk=linked.pk).update(send_rate_per_minute=per_minute)
    ids = ",".join(str(queue(f"m{i}").pk) for i in range(count))
    env = {
        "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.test",
        "TEST_REDIS_DB": str(settings.TEST_REDIS_DB),
        "EVOLUTION_API_URL": sandbox.base_url,
        "EVOLUTION_API_KEY": settings.EVOLUTION_API_KEY,
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, connection.settings_dict["NAME"], ids],
            cwd=settings.BASE_DIR,
            env={**os.environ, **env},
        )
        for _ in range(2)
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    stamps = sorted(m["createdAt"] for m in sent_at_provider(sandbox))
    assert len(stamps) == count and len({m["text"] for m in sent_at_provider(sandbox)}) == count
    rate, burst = per_minute / 60, 3
    for i, start in enumerate(stamps):
        in_window = sum(1 for s in stamps[i:] if s < start + 1)
        assert in_window <= rate + burst, stamps
    assert stamps[-1] - stamps[0] >= (count - burst) / rate * 0.9


def test_messages_to_one_contact_leave_in_the_order_they_were_queued(queue, sandbox):
    first, second = queue("first", to="5511977770000"), queue("second", to="5511977770000")
    assert sending.send(str(second.pk)) == "waiting_for_earlier"
    assert sent_at_provider(sandbox) == []
    assert sending.send(str(first.pk)) == "sent"
    make_due(second)
    assert sending.send(str(second.pk)) == "sent"
    assert [m["text"] for m in sent_at_provider(sandbox)] == ["first", "second"]


def test_messages_to_other_contacts_do_not_wait_for_each_other(queue, sandbox):
    queue("to ana", to="5511900000001")
    other = queue("to bia", to="5511900000002")
    assert sending.send(str(other.pk)) == "sent"
