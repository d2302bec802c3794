"""Send lanes: one sender per number, queue order, exact pacing, takeover, and the sweep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.db.models import Q
from django.utils import timezone

from instances.models import Number
from messaging import lanes, outbox, sending, wakeup
from messaging.models import Campaign, Message, SendAttempt, SendLane

from .fixtures import make_due, send, sent_at_provider


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Wake-ups handed to Celery, as (number id, countdown), instead of a broker."""
    calls: list[tuple[str, float]] = []

    def publish(
        args: tuple[str], kwargs: Any = None, countdown: float | None = None, **options: Any
    ) -> None:
        calls.append((args[0], countdown or 0))

    monkeypatch.setattr("messaging.tasks.run_lane.apply_async", publish)
    return calls


def sync(linked: Number, **fields: Any) -> None:
    """Change the linked number's row (rate, status) as an operator would."""
    Number.objects.filter(pk=linked.pk).update(**fields)


@pytest.mark.django_db(transaction=True)
def test_one_numbers_messages_leave_in_queue_order_and_never_two_at_once(
    linked: Number, queue: Callable[..., Message], sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    chats = ["5511900000001", "5511900000002", "5511900000003"]
    texts = [f"m{i}" for i in range(24)]
    for i, text in enumerate(texts):
        queue(text, to=chats[i % 3])
    at_provider, most = [0], [0]
    lock, call = threading.Lock(), sending.call_provider

    def counted(message: Message) -> Any:
        with lock:
            at_provider[0] += 1
            most[0] = max(most[0], at_provider[0])
        try:
            time.sleep(0.01)  # a provider call takes a while: room for a second sender
            return call(message)
        finally:
            with lock:
                at_provider[0] -= 1

    monkeypatch.setattr(sending, "call_provider", counted)
    start = threading.Barrier(4)

    def worker(_: int) -> None:
        try:
            start.wait()
            deadline = time.monotonic() + 30
            while Message.objects.filter(status="queued").exists():
                assert time.monotonic() < deadline
                lanes.run(linked.pk)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(worker, range(4)))
    assert most[0] == 1
    assert [m["text"] for m in sorted(sent_at_provider(sandbox), key=lambda m: m["createdAt"])] == (
        texts
    )


@pytest.mark.django_db
def test_a_held_lane_is_busy_for_others_and_taken_over_once_its_lease_runs_out(
    linked: Number, queue: Callable[..., Message], sandbox: Any, woken: list[tuple[str, float]]
) -> None:
    message = queue()
    SendLane.objects.create(number=linked)
    dead = lanes.LANES.claim(where=Q(pk=linked.pk))  # ... and the worker is killed here
    assert dead is not None
    assert send(message) == "busy"
    assert outbox.sweep()["woken"] == 0
    SendLane.objects.filter(pk=linked.pk).update(leased_until=timezone.now())
    assert outbox.sweep()["woken"] == 1 and woken == [(str(linked.pk), 0)]
    assert send(message) == "sent"
    assert len(sent_at_provider(sandbox)) == 1


@pytest.mark.django_db
def test_the_lane_lease_is_short_enough_for_a_takeover_within_ten_seconds(settings: Any) -> None:
    from whatsapp_saas.celery import app

    sweep = app.conf.beat_schedule["sweep-outbox"]["schedule"]
    assert settings.SEND_LANE_LEASE_SECONDS + sweep <= 10


@pytest.mark.django_db(transaction=True)
def test_a_long_provider_call_keeps_the_lane_and_another_worker_waits(
    linked: Number,
    queue: Callable[..., Message],
    sandbox: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.SEND_LANE_LEASE_SECONDS = 1.0
    queue("slow")
    queue("next")
    call, others = sending.call_provider, []

    def slow(message: Message) -> Any:
        if message.text == "slow":
            time.sleep(2.5)  # two and a half leases long
            others.append(lanes.run(linked.pk).stopped)
        return call(message)

    monkeypatch.setattr(sending, "call_provider", slow)
    try:
        run = lanes.run(linked.pk)
    finally:
        connections.close_all()
    assert others == ["busy"] and run.stopped == "idle"
    assert sorted(run.outcomes.values()) == ["sent", "sent"]
    assert len(sent_at_provider(sandbox)) == 2


@pytest.mark.django_db
def test_the_sweep_wakes_a_lane_with_due_messages_once_per_window(
    linked: Number, queue: Callable[..., Message], woken: list[tuple[str, float]]
) -> None:
    queue("soon")
    later = queue("later", not_before=timezone.now() + timedelta(minutes=5))
    assert outbox.sweep()["woken"] == 1 and [n for n, _ in woken] == [str(linked.pk)]
    assert outbox.sweep()["woken"] == 0
    assert later.next_attempt_at is not None and later.next_attempt_at > timezone.now()


@pytest.mark.django_db
def test_the_sweep_skips_numbers_not_connected_and_paused_campaigns(
    linked: Number, queue: Callable[..., Message], woken: list[tuple[str, float]]
) -> None:
    campaign = Campaign.objects.create(
        tenant=linked.tenant, number=linked, name="P", status="paused"
    )
    queue("held", campaign=campaign)
    sync(linked, status="disconnected")
    queue("waiting")
    assert outbox.sweep()["woken"] == 0
    sync(linked, status="connected")
    assert outbox.sweep()["woken"] == 1


@pytest.mark.django_db
def test_the_sweep_expires_overdue_messages_but_not_one_that_may_be_at_the_provider(
    queue: Callable[..., Message], woken: list[tuple[str, float]]
) -> None:
    overdue, in_flight = queue("overdue"), queue("in flight")
    Message.objects.filter(pk=in_flight.pk).update(in_flight_since=timezone.now())
    Message.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert outbox.sweep()["expired"] == 1
    overdue.refresh_from_db()
    in_flight.refresh_from_db()
    assert (overdue.status, overdue.error_code) == ("failed", "expired")
    assert in_flight.status == "queued"


@pytest.mark.django_db
def test_a_queued_message_wakes_its_lane_after_commit_and_a_later_one_waits_for_its_time(
    linked: Number,
    django_capture_on_commit_callbacks: Any,
    woken: list[tuple[str, float]],
    sandbox: Any,
) -> None:
    tomorrow = timezone.now() + timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        outbox.queue_message(linked, to="5511888888888", type="text", text="now")
    assert woken == [(str(linked.pk), 0)]
    outbox.queue_message(linked, to="5511888888887", type="text", text="later", not_before=tomorrow)
    run = lanes.run(linked.pk)
    assert (run.stopped, list(run.outcomes.values())) == ("idle", ["sent"])
    assert SendLane.objects.get(pk=linked.pk).due_at == tomorrow
    assert [m["text"] for m in sent_at_provider(sandbox)] == ["now"]


@pytest.mark.django_db
def test_over_the_rate_the_lane_is_handed_back_for_the_instant_the_next_slot_is_free(
    linked: Number, queue: Callable[..., Message], sandbox: Any, woken: list[tuple[str, float]]
) -> None:
    sync(linked, send_rate_per_minute=6)  # a slot every 10 s: slow sends cannot blur it
    messages = [queue(f"m{i}") for i in range(5)]
    before = timezone.now()
    run = lanes.run(linked.pk)
    assert [run.outcomes[str(m.pk)] for m in messages[:4]] == ["sent"] * 3 + ["paced"]
    assert run.stopped == "paced" and len(sent_at_provider(sandbox)) == 3  # the burst is 3
    lane = SendLane.objects.get(pk=linked.pk)
    assert lane.due_at is not None
    # The fourth slot is 10 s after the first send (three in a burst, then one per 10 s).
    first = SendAttempt.objects.order_by("started_at").first()  # committed just after its slot
    assert first is not None
    assert first.started_at + timedelta(seconds=9.5) <= lane.due_at
    assert lane.due_at <= first.started_at + timedelta(seconds=10.05)
    assert lane.not_before == lane.due_at and lane.due_at > before
    assert len(woken) == 1 and 0 < woken[0][1] <= 10.1
    assert lanes.run(linked.pk).stopped == "busy"  # not due yet: no release-and-retry
    assert all(
        m.status == "queued" for m in Message.objects.filter(pk__in=[m.pk for m in messages[3:]])
    )


@pytest.mark.django_db
def test_a_short_gap_is_waited_in_the_worker_instead_of_handing_the_lane_back(
    linked: Number, queue: Callable[..., Message], sandbox: Any
) -> None:
    sync(linked, send_rate_per_minute=600)  # a slot every 100 ms, under SHORT_WAIT
    for i in range(6):
        queue(f"m{i}")
    run = lanes.run(linked.pk)
    assert run.stopped == "idle" and list(run.outcomes.values()) == ["sent"] * 6
    stamps = sorted(m["createdAt"] for m in sent_at_provider(sandbox))
    assert stamps[-1] - stamps[0] >= 0.27  # six sends past a burst of three: three slots


@pytest.mark.django_db
def test_a_busy_lane_is_given_up_after_its_budget_and_woken_again(
    linked: Number,
    queue: Callable[..., Message],
    sandbox: Any,
    settings: Any,
    woken: list[tuple[str, float]],
) -> None:
    settings.SEND_LANE_BUDGET_SECONDS = 0
    queue("one")
    queue("two")
    run = lanes.run(linked.pk)
    assert run.stopped == "budget" and run.outcomes == {}
    assert woken == [(str(linked.pk), 0)]
    assert SendLane.objects.get(pk=linked.pk).lease_token is None


@pytest.mark.django_db
def test_a_free_worker_also_runs_other_due_lanes(
    linked: Number, queue: Callable[..., Message], sandbox: Any
) -> None:
    queue("one")
    SendLane.objects.create(number=linked, due_at=timezone.now())
    runs = lanes.run_due(seconds=5)
    assert [r.stopped for r in runs] == ["idle"] and len(sent_at_provider(sandbox)) == 1


def test_messages_to_one_contact_leave_in_the_order_they_were_queued(
    queue: Callable[..., Message], sandbox: Any
) -> None:
    first, second = queue("first", to="5511977770000"), queue("second", to="5511977770000")
    Message.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now() + timedelta(1))
    assert send(second) == "idle"  # behind an older message of its chat
    assert sent_at_provider(sandbox) == []
    make_due(first)
    assert send(first) == "sent"
    assert [m["text"] for m in sent_at_provider(sandbox)] == ["first", "second"]


def test_messages_to_other_contacts_do_not_wait_for_each_other(
    queue: Callable[..., Message], sandbox: Any
) -> None:
    waiting = queue("to ana", to="5511900000001")
    Message.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() + timedelta(1))
    other = queue("to bia", to="5511900000002")
    assert send(other) == "sent"


def test_a_wake_up_from_the_sweep_is_sent_once_until_the_lane_is_taken(
    linked: Number, woken: list[tuple[str, float]]
) -> None:
    assert wakeup.wake(linked.pk, once=True) == 1
    assert wakeup.wake(linked.pk, once=True) == 0
    wakeup.taken(linked.pk)
    assert wakeup.wake(linked.pk, once=True) == 1
    assert wakeup.wake(linked.pk, countdown=wakeup.HORIZON + 1) == 0
