"""Deliveries through the work queue: posted once by racing workers, taken over after a lease."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from notifications import claims, delivery, transport
from notifications import services as notify
from notifications.models import Delivery, DeliveryAttempt, Endpoint
from sandbox.testing import WebhookReceiver
from tenants.models import Tenant

Register = Callable[..., dict[str, Any]]
WORKERS = 4


def pinged(tenant: Tenant, receiver: WebhookReceiver, register: Register) -> Delivery:
    """A due `ping` delivery to the receiver."""
    created = register(tenant, receiver.url)
    return notify.ping(Endpoint.objects.get(pk=created["id"]))


def lease_runs_out(queued: Delivery) -> None:
    """Time passes beyond the holder's lease (it stopped renewing: its worker died or hangs)."""
    Delivery.objects.filter(pk=queued.pk).update(leased_until=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The deliveries workers were woken for (instead of Celery messages)."""
    found: list[str] = []
    monkeypatch.setattr(claims, "enqueue", lambda pk, countdown=None: found.append(pk))
    return found


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_delivery_post_it_once(
    tenant: Tenant, receiver: WebhookReceiver, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = pinged(tenant, receiver, register)
    post, start = transport.post, threading.Barrier(WORKERS)

    def slow_post(*args: Any) -> transport.Answer:
        # A slow endpoint keeps the winner inside its request while the others try to claim.
        threading.Event().wait(0.5)
        return post(*args)

    monkeypatch.setattr(transport, "post", slow_post)

    def work(_: int) -> str:
        try:
            start.wait()
            return delivery.deliver(str(queued.pk))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = sorted(pool.map(work, range(WORKERS)))
    assert outcomes == ["delivered"] + ["skipped"] * (WORKERS - 1)
    assert len(receiver.received) == 1
    assert DeliveryAttempt.objects.filter(delivery=queued).count() == 1


@pytest.mark.django_db
def test_a_delivery_whose_worker_died_is_swept_and_delivered_after_its_lease(
    tenant: Tenant, receiver: WebhookReceiver, register: Register, woken: list[str]
) -> None:
    queued = pinged(tenant, receiver, register)
    assert claims.DELIVERIES.take(queued.pk) is not None  # a worker took it, then died
    assert notify.sweep() == 0 and delivery.deliver(str(queued.pk)) == "skipped"
    lease_runs_out(queued)
    assert notify.sweep() == 1 and woken == [str(queued.pk)]
    assert delivery.deliver(str(queued.pk)) == "delivered"
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.lease_token, queued.leased_until) == (
        "delivered",
        1,
        None,
        None,
    )
    assert len(receiver.received) == 1 and notify.sweep() == 0


@pytest.mark.django_db(transaction=True)
def test_the_outcome_of_a_worker_whose_lease_was_taken_over_writes_nothing(
    tenant: Tenant,
    receiver: WebhookReceiver,
    register: Register,
    woken: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued = pinged(tenant, receiver, register)
    woken.clear()  # the wake-up of the ping itself
    receiver.respond_with(503)  # what the stale worker will hear
    post, posted, taken_over = transport.post, threading.Event(), threading.Event()

    def hanging_post(*args: Any) -> transport.Answer:
        answer = post(*args)
        if not posted.is_set():
            posted.set()
            taken_over.wait(10)  # the first worker hangs past its lease with its answer
        return answer

    monkeypatch.setattr(transport, "post", hanging_post)

    def stale_worker() -> str:
        try:
            return delivery.deliver(str(queued.pk))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        stale = pool.submit(stale_worker)
        assert posted.wait(10)
        lease_runs_out(queued)
        assert delivery.deliver(str(queued.pk)) == "delivered"
        taken_over.set()
        assert stale.result(10) == "skipped"
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.last_response_code) == ("delivered", 1, 200)
    assert queued.next_attempt_at is None and queued.lease_token is None
    rows = DeliveryAttempt.objects.filter(delivery=queued)
    assert [(a.number, a.response_code, a.outcome) for a in rows] == [(1, 200, "delivered")]
    assert woken == []  # the stale worker scheduled no retry


@pytest.mark.django_db
def test_redelivering_a_delivery_being_posted_drops_the_outcome_of_that_post(
    tenant: Tenant, receiver: WebhookReceiver, register: Register
) -> None:
    queued = pinged(tenant, receiver, register)
    posting = claims.DELIVERIES.take(queued.pk)
    assert posting is not None
    assert notify.redeliver([queued]) == 1
    failed = delivery.Result("failed", "HTTP 410", 410)
    assert delivery.record(posting, queued, failed, timezone.now(), 5) == "skipped"
    assert delivery.deliver(str(queued.pk)) == "delivered"
    rows = DeliveryAttempt.objects.filter(delivery=queued)
    assert [(a.number, a.outcome) for a in rows] == [(1, "delivered")]
