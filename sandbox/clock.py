"""Time for the sandbox: wall time for payloads and a timer scheduler, real or manual."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger("sandbox.clock")

MANUAL_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Cancellable(Protocol):
    """A scheduled timer that can be cancelled."""

    def cancel(self) -> None:
        """Stop the timer from firing."""


@dataclass(order=True)
class ManualTimer:
    """A timer waiting for the manual clock to reach its due time."""

    due: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        """Stop the timer from firing."""
        self.cancelled = True


class Clock:
    """Wall time and timers; in manual mode time moves only through advance()."""

    def __init__(self, mode: str = "real", start: float | None = None) -> None:
        self.manual = mode == "manual"
        self._now = MANUAL_START if start is None else start
        self._timers: list[ManualTimer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        """Return the current time in epoch seconds."""
        return self._now if self.manual else time.time()

    def iso(self, ts: float | None = None) -> str:
        """Return a time as ISO 8601 UTC with milliseconds and a trailing Z."""
        moment = datetime.fromtimestamp(self.now() if ts is None else ts, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        """Run callback after delay seconds of this clock (in the event loop thread)."""
        if delay <= 0:
            return asyncio.get_running_loop().call_soon(callback)
        if not self.manual:
            return asyncio.get_running_loop().call_later(delay, callback)
        timer = ManualTimer(self._now + delay, next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, delay: float) -> None:
        """Wait delay seconds of this clock."""
        if not self.manual:
            await asyncio.sleep(max(delay, 0))
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = self.call_later(delay, wake)
        try:
            await future
        finally:
            handle.cancel()

    def advance(self, seconds: float) -> int:
        """Move the manual clock forward, firing due timers in order; return how many fired."""
        if not self.manual:
            raise RuntimeError("the clock is real; start the sandbox with --clock manual")
        target = self._now + max(seconds, 0)
        fired = 0
        while self._timers and self._timers[0].due <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, timer.due)
            fired += 1
            try:
                timer.callback()
            except Exception:  # one broken timer must not stop the others
                log.exception("timer callback failed")
        self._now = target
        return fired

    def pending(self) -> int:
        """Return how many manual timers are waiting."""
        return sum(1 for t in self._timers if not t.cancelled)
