"""A task for tests that run real workers: it appends its token to a file, so a test sees it ran."""

from __future__ import annotations

import time

from celery import shared_task


@shared_task(name="probe.record", ignore_result=True, acks_late=True)
def record(path: str, token: str, seconds: float = 0.0) -> None:
    """Sleep a little (to hold a worker), then append the token as one line."""
    time.sleep(seconds)
    with open(path, "a") as out:
        out.write(f"{token}\n")
