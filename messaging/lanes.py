"""A number's send lane: the one worker holding it is the number's only sender (DESIGN.md 4).

A wake-up (a message queued, a lane handed back, the sweep) makes a worker claim the number's
SendLane row through the work queue (whatsapp_saas/workqueue.py). The holder sends the number's
due messages oldest first, each chat's oldest only (outbox.heads), so a chat stays in order by
construction; it is paced by the number's limiter, sleeping through short gaps and otherwise
handing the lane back with `due_at` set to the instant the next slot is free. It gives the lane up
when nothing is due or after SEND_LANE_BUDGET_SECONDS, so one busy number never keeps a worker.

The lease is short (SEND_LANE_LEASE_SECONDS), renewed by every decision the holder writes and by
a heartbeat during provider calls; when a worker dies its lease runs out and the next claim (a
worker looking for due lanes, or the sweep's wake-up) takes the lane over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from instances.models import Number
from providers.events import ConnectionStatus as S
from whatsapp_saas.workqueue import Lease, LeaseLost, WorkQueue

from . import outbox, pacing, sending, wakeup
from .models import SendLane
from .wakeup import Key


def lane_lease() -> timedelta:
    """How long a lane stays with a worker that stops renewing it."""
    return timedelta(seconds=settings.SEND_LANE_LEASE_SECONDS)


LANES: WorkQueue[SendLane] = WorkQueue(SendLane, lease=lane_lease, due=None, order=("due_at",))


@dataclass
class Run:
    """One hold of a lane: what happened to each message it reached, and why it was given up."""

    number_id: str
    outcomes: dict[str, str] = field(default_factory=dict)
    stopped: str = ""


def unpaused() -> Q:
    """Lanes a wake-up may run now: whatever their next due message, none is held back."""
    return Q(not_before__isnull=True) | Q(not_before__lte=timezone.now())


def run(number_id: Key) -> Run:
    """Take the number's lane unless it is held or paused, and work it; else stopped="busy"."""
    lease = LANES.claim(where=Q(pk=number_id) & unpaused(), skip_locked=False)
    if lease is None and not SendLane.objects.filter(number_id=number_id).exists():
        # The number's first message: its lane row is made on first use.
        SendLane.objects.bulk_create([SendLane(number_id=number_id)], ignore_conflicts=True)
        lease = LANES.claim(where=Q(pk=number_id) & unpaused(), skip_locked=False)
    if lease is None:
        return Run(str(number_id), stopped="busy")
    return hold(lease, str(number_id))


def run_due(seconds: float) -> list[Run]:
    """Work other due lanes no one holds (oldest first) for about `seconds`: a free worker helps."""
    deadline, runs = time.monotonic() + seconds, []
    while time.monotonic() < deadline:
        lease = LANES.claim(where=Q(due_at__lte=timezone.now()))
        if lease is None:
            break
        runs.append(hold(lease, str(lease.ids[0])))
    return runs


def hold(lease: Lease[SendLane], number_id: str) -> Run:
    """Send while the lane is ours, then give it up."""
    wakeup.taken(number_id)
    wakeup.holding(number_id, settings.SEND_LANE_LEASE_SECONDS)
    result = Run(number_id)
    budget = settings.SEND_LANE_BUDGET_SECONDS
    call = settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT
    every = settings.SEND_LANE_LEASE_SECONDS / 4
    with lease.kept_alive(every, at_most=budget + 2 * call):
        try:
            drive(lease, result, time.monotonic() + budget)
        except LeaseLost:
            result.stopped = "lost"
    return result


def drive(lease: Lease[SendLane], result: Run, deadline: float) -> None:
    """The lane's loop: one due message at a time until idle, paused, or out of budget."""
    number = Number.objects.filter(pk=result.number_id).first()
    while True:
        if number is None or not sendable(number):
            # The sweep wakes the lane once the number is connected again.
            return give_up(lease, result, "number_not_connected", idle=True)
        if time.monotonic() >= deadline:
            return give_up(lease, result, "budget")
        now = timezone.now()
        message = outbox.front(number.pk, now)
        if message is None:
            return give_up(lease, result, "idle")
        gap = (outbox.due_at(message, now) - now).total_seconds()
        if gap > pacing.SHORT_WAIT:
            return give_up(lease, result, "idle")
        if gap > 0:
            pacing.sleep(gap + pacing.WAKE_PAD)
            continue
        done = sending.step(lease, number, message)
        result.outcomes[str(message.pk)] = done.outcome
        if done.pause > 0:
            at = timezone.now() + timedelta(seconds=done.pause)
            return give_up(lease, result, done.outcome, not_before=at)
        wakeup.holding(result.number_id, settings.SEND_LANE_LEASE_SECONDS)
        number = refreshed(number)


def sendable(number: Number) -> bool:
    """Whether the number may send now."""
    return number.status == S.CONNECTED and number.deletion_requested_at is None


def refreshed(number: Number) -> Number | None:
    """The number with its current status and rate (cheap: no secrets decrypted); None if gone."""
    row = (
        Number.objects.filter(pk=number.pk)
        .values("status", "deletion_requested_at", "send_rate_per_minute")
        .first()
    )
    if row is None:
        return None
    for name, value in row.items():
        setattr(number, name, value)
    return number


def give_up(
    lease: Lease[SendLane],
    result: Run,
    reason: str,
    *,
    not_before: datetime | None = None,
    idle: bool = False,
) -> None:
    """Release the lane, due when its next message may go; wake it then if that is soon.

    The queue is read again under the lane's row lock, so a message queued while the lane was
    held is never left behind: its own wake-up either waits for this release or sees it done.
    """
    result.stopped = reason
    wakeup.letting_go(result.number_id)
    with lease.fenced():
        now = timezone.now()
        front = None if idle else outbox.front(result.number_id, now)
        due = outbox.due_at(front, now) if front is not None else None
        if due is not None and not_before is not None:
            due = max(due, not_before)
        lease.finish(due_at=due, not_before=not_before)
    if due is not None:
        wakeup.wake(result.number_id, max((due - timezone.now()).total_seconds(), 0.0), once=True)
