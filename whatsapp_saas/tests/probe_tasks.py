"""Tasks for tests that run real workers: they append a token to a file, so a test sees them run."""

from __future__ import annotations

import time

from celery import shared_task
from django.db import DatabaseError, connection


def append(path: str, line: str) -> None:
    """One line, appended (prefork pool processes share the file)."""
    with open(path, "a") as out:
        out.write(f"{line}\n")


@shared_task(name="probe.record", ignore_result=True, acks_late=True)
def record(path: str, token: str, seconds: float = 0.0) -> None:
    """Sleep a little (to hold a worker), then append the token."""
    time.sleep(seconds)
    append(path, token)


# Retried like our tasks that touch the database (messaging.tasks, webhooks.tasks).
@shared_task(
    name="probe.query",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=1,
    retry_backoff_max=4,
    max_retries=30,
)
def query(path: str, token: str) -> None:
    """Ask the database which server process answers; append the token and that process id."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone() or (None,)
    append(path, f"{token} {pid}")
