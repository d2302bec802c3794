"""Celery tasks of the send pipeline: run a number's lane, and the periodic outbox sweep."""

from __future__ import annotations

from celery import shared_task

from . import lanes, outbox
from .models import Message

# After its own lane, a worker helps with other due lanes for about this long.
HELP_SECONDS = 20.0


@shared_task(ignore_result=True)
def run_lane(number_id: str) -> str:
    """Send the number's due messages if its lane is free; then work other due lanes a while.

    Losing this task loses nothing: the lane row is the job and the sweep wakes it again. A
    duplicate finds the lane taken and returns at once.

    :param number_id: the Number's primary key.
    """
    stopped = lanes.run(number_id).stopped
    lanes.run_due(HELP_SECONDS)
    return stopped


@shared_task(ignore_result=True)
def send_message(message_id: str) -> str:
    """Kept for tasks queued before lanes existed: wakes the message's lane.

    :param message_id: the Message's primary key.
    """
    number_id = Message.objects.filter(pk=message_id).values_list("number_id", flat=True).first()
    return lanes.run(number_id).stopped if number_id else "skipped"


@shared_task(ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    """Every 5 s: expire overdue messages and wake lanes whose wake-up was lost or late."""
    return outbox.sweep()
