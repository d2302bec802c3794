"""Wake event processing without a broker round trip per webhook (DESIGN.md "Webhooks in").

`wake()` costs the acknowledgement a flag: a background thread of the process publishes at most
one `process_pending` task per WINDOW, however many events arrived, and retries with backoff
while the broker is down, so the ack never waits for Redis and a burst stored during an outage
is picked up as soon as Redis is back. The row is the job: a lost wake-up loses nothing, since
the redrive task re-enqueues every event left `received`.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from celery import current_app

logger = logging.getLogger(__name__)

PROCESS_PENDING = "webhooks.tasks.process_pending"
PROCESS_ONE = "webhooks.tasks.process_webhook_event"
WINDOW = 0.05
MAX_BACKOFF = 5.0


class Waker:
    """One publisher thread per process, started on first use (and again after a fork)."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self.wanted = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def poke(self) -> None:
        """Ask for one wake-up soon; repeated pokes within a window make one."""
        # Nothing here may cost the ack more than a flag (reading Celery's conf costs ~40 µs).
        self.wanted.set()
        if self.thread is None or self.pid != os.getpid():
            self.start()

    def start(self) -> None:
        """Start the publisher thread of this process."""
        with self.lock:
            if self.thread is not None and self.pid == os.getpid():
                return
            self.pid = os.getpid()
            self.thread = threading.Thread(target=self.run, name="webhook-waker", daemon=True)
            self.thread.start()

    def run(self) -> None:
        """Publish one wake-up per burst; on a broker error keep it wanted and back off."""
        delay = self.window
        while True:
            self.wanted.wait()
            self.wanted.clear()
            try:
                publish()
            except Exception as exc:  # whatever the broker raises, try later
                self.wanted.set()
                delay = min(max(delay * 2, 0.5), MAX_BACKOFF)
                logger.warning("cannot wake event processing (retry in %.1fs): %s", delay, exc)
            else:
                delay = self.window
            time.sleep(delay)


def publish() -> None:
    """One `process_pending` task on the events queue."""
    current_app.signature(PROCESS_PENDING).apply_async()


def enqueue(event_id: int) -> None:
    """Queue the processing of one stored event (redrive and reprocess)."""
    current_app.signature(PROCESS_ONE, args=(event_id,)).apply_async()


waker = Waker()


def wake() -> None:
    """Processing should look for new events soon."""
    waker.poke()
