"""Waking a number's lane: a Celery message that only wakes a worker; the lane row is the job.

A lost wake-up costs a delay, never a message: the outbox sweep wakes every lane with work.
"""

from __future__ import annotations

import uuid

from celery import current_app
from django.conf import settings
from django.db import transaction

from providers.http import get_redis

Key = str | uuid.UUID
# Wake-ups further ahead than this are not published (workers would hold them); the sweep
# publishes them once they come near.
HORIZON = 60.0
# A sweep's wake-up of a lane is not repeated while it may still be on its way.
ONCE_KEY = "wa:lane:woken:{}"
ONCE_GRACE = 5.0
# Set while a worker holds the lane: a new message needs no wake-up then, as the holder reads the
# queue again before it lets the lane go (and this mark is gone before that last read).
HELD_KEY = "wa:lane:held:{}"
# Published by name: the tasks module imports the lanes, which wake through this module.
RUN_LANE = "messaging.tasks.run_lane"


def wake(number_id: Key, countdown: float = 0.0, *, once: bool = False) -> int:
    """Ask a worker to run the number's lane in `countdown` seconds; 1 if a wake-up was sent.

    With `once`, a wake-up already sent for this lane and not yet taken is not repeated.
    """
    if countdown > HORIZON:
        return 0
    if once:
        ttl = int((countdown + ONCE_GRACE) * 1000)
        if not get_redis(settings.REDIS_URL).set(ONCE_KEY.format(number_id), 1, px=ttl, nx=True):
            return 0
    run_lane = current_app.signature(RUN_LANE, args=(str(number_id),))
    if countdown <= 0:
        # No countdown at all: a task with one (even 0) is an ETA task workers hold apart.
        run_lane.apply_async()
        return 1
    # A small pad, so a timely wake-up never finds its lane a moment short of due.
    run_lane.apply_async(countdown=countdown + 0.005)
    return 1


def wake_on_commit(number_id: Key) -> None:
    """Wake the lane once the current transaction commits, unless a worker holds it.

    A broker hiccup is left to the sweep.
    """
    transaction.on_commit(lambda: wake_unless_held(number_id), robust=True)


def wake_unless_held(number_id: Key) -> int:
    """Wake the lane if no worker holds it (the holder will see what was just committed)."""
    if get_redis(settings.REDIS_URL).exists(HELD_KEY.format(number_id)):
        return 0
    return wake(number_id)


def holding(number_id: Key, seconds: float) -> None:
    """Mark the lane held for `seconds` (renewed as the holder goes on)."""
    get_redis(settings.REDIS_URL).set(HELD_KEY.format(number_id), 1, px=int(seconds * 1000))


def letting_go(number_id: Key) -> None:
    """The holder is about to read the queue a last time and release the lane."""
    get_redis(settings.REDIS_URL).delete(HELD_KEY.format(number_id))


def taken(number_id: Key) -> None:
    """The lane was claimed: the sweep may wake it again as soon as it is free and due."""
    get_redis(settings.REDIS_URL).delete(ONCE_KEY.format(number_id))
