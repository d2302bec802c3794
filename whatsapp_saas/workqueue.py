"""The one work-queue mechanism (DESIGN.md section 4 "Work"): claim due rows, lease, fence, sweep.

The database row is the job. A worker claims up to n due rows with one
`UPDATE … WHERE pk IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING pk`, which stamps them
with a fresh lease token and an expiry. Every later write filters on that token (`Lease.held`),
so a worker whose lease ran out and was taken over writes nothing. Leases are short and renewed
while the work goes on (by each fenced write, and by a heartbeat thread during long calls); a
sweep finds rows whose lease ran out (`WorkQueue.claimable`) and wakes a worker for them. A
Celery message only wakes a worker: losing one loses nothing.

A model served by a queue has two fields, `lease_token` (UUID, null) and `leased_until`
(datetime, null), and usually a due-time field.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db import DatabaseError, connection, connections, models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=models.Model)


class LeaseLost(Exception):
    """The lease ran out and another worker may hold the rows: stop, write nothing more."""


def backoff(tries: int, base: float, cap: float) -> float:
    """Seconds before try `tries + 1`: exponential from `base`, capped, with equal jitter.

    Half of the step is fixed and half random, so retries of many rows spread out but never come
    sooner than half the nominal delay. The one formula for every kind of work.
    """
    ceiling = min(cap, base * 2 ** max(tries - 1, 0))
    # Not a secret: jitter only spreads retries out.
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311


class WorkQueue(Generic[M]):
    """Rows of one model worked as jobs: `ready` says which may be claimed, `due` from when."""

    def __init__(
        self,
        model: type[M],
        *,
        lease: Callable[[], timedelta],
        ready: Q | None = None,
        due: str | None = "next_attempt_at",
        order: tuple[str, ...] = ("pk",),
    ) -> None:
        self.model, self.lease_time, self.ready = model, lease, ready or Q()
        self.due, self.order = due, order

    def claimable(self, now: datetime | None = None, where: Q | None = None) -> QuerySet[M]:
        """Rows that are ready, due and leased by nobody (never leased, or the lease ran out)."""
        now = now or timezone.now()
        unleased = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
        rows = self.model._default_manager.filter(self.ready, unleased)
        if self.due:
            rows = rows.filter(**{f"{self.due}__lte": now})
        return rows.filter(where) if where is not None else rows

    def expired(self, now: datetime | None = None) -> QuerySet[M]:
        """Rows whose holder's lease ran out without a final write (the worker died)."""
        return self.model._default_manager.filter(leased_until__lte=now or timezone.now())

    def claim(
        self,
        n: int = 1,
        *,
        where: Q | None = None,
        skip_locked: bool = True,
        **changes: Any,
    ) -> Lease[M] | None:
        """Lease up to n claimable rows (oldest first) in one statement; None when none was free.

        `skip_locked=False` waits for a row another transaction holds for a moment (a targeted
        claim of one row must not miss it); `changes` are written to the claimed rows as well.
        """
        now = timezone.now()
        lease = Lease(self, uuid.uuid4(), now + self.lease_time(), ())
        candidates = (
            self.claimable(now, where)
            .order_by(*self.order)
            .select_for_update(skip_locked=skip_locked, of=("self",))
            .values("pk")[:n]
        )
        table = connection.ops.quote_name(self.model._meta.db_table)
        pk = connection.ops.quote_name(self.model._meta.pk.column or "id")
        with transaction.atomic():
            inner, params = candidates.query.sql_with_params()
            with connection.cursor() as cursor:
                # Quoted identifiers and the ORM's own SQL; every value is a bound parameter.
                cursor.execute(
                    f"UPDATE {table} SET lease_token = %s, leased_until = %s "  # noqa: S608
                    f"WHERE {pk} IN ({inner}) RETURNING {pk}",
                    [lease.token, lease.until, *params],
                )
                lease.ids = tuple(row[0] for row in cursor.fetchall())
            if lease.ids and changes:
                self.model._default_manager.filter(pk__in=lease.ids).update(**changes)
        return lease if lease.ids else None

    def take(self, pk: Any, **changes: Any) -> Lease[M] | None:
        """Claim one row by its key if it is claimable (the task of one row)."""
        return self.claim(1, where=Q(pk=pk), skip_locked=False, **changes)


class Lease(Generic[M]):
    """Rows one worker holds until `until`; the token fences every write it makes."""

    def __init__(
        self, queue: WorkQueue[M], token: uuid.UUID, until: datetime, ids: tuple[Any, ...]
    ) -> None:
        self.queue, self.token, self.until, self.ids = queue, token, until, ids
        self.renewed_at = time.monotonic()

    def held(self, pk: Any = None, *, among: Iterable[Any] | None = None) -> QuerySet[M]:
        """The rows (one row, or some) this lease still holds: every write goes through this."""
        rows = self.queue.model._default_manager.filter(lease_token=self.token)
        if among is not None:
            rows = rows.filter(pk__in=list(among))
        return rows.filter(pk=pk) if pk is not None else rows

    def rows(self) -> QuerySet[M]:
        """The claimed rows, to read."""
        return self.queue.model._default_manager.filter(pk__in=self.ids)

    def renew(self) -> bool:
        """Push the expiry forward; False when the lease was lost (taken over or finished)."""
        until = timezone.now() + self.queue.lease_time()
        if not self.held().update(leased_until=until):
            return False
        self.until, self.renewed_at = until, time.monotonic()
        return True

    def finish(self, pk: Any = None, *, among: Iterable[Any] | None = None, **fields: Any) -> int:
        """A fenced final write that also gives the row(s) up; 0 when the lease was lost."""
        return self.held(pk, among=among).update(lease_token=None, leased_until=None, **fields)

    @contextmanager
    def fenced(self) -> Iterator[None]:
        """A transaction that renews the lease first and holds the row lock until it commits.

        Raises LeaseLost (nothing written) when another worker may hold the rows.
        """
        with transaction.atomic():
            if not self.renew():
                raise LeaseLost(f"lease {self.token} on {self.queue.model.__name__} was lost")
            yield

    @contextmanager
    def kept_alive(self, every: float, at_most: float) -> Iterator[None]:
        """Renew the lease from a thread while the caller works (at most `at_most` seconds)."""
        beat = Heartbeat(self, every, at_most)
        beat.start()
        try:
            yield
        finally:
            beat.stop()


class Heartbeat(threading.Thread):
    """Renews a lease every few seconds; dies with its process, so a dead worker's lease ends."""

    def __init__(self, lease: Lease[Any], every: float, at_most: float) -> None:
        super().__init__(daemon=True, name=f"lease-{lease.token}")
        self.lease, self.every = lease, every
        self.deadline = time.monotonic() + at_most
        self.stopped = threading.Event()

    def run(self) -> None:
        """Renew when the last renewal is `every` seconds old, until stopped, lost or too old."""
        try:
            while not self.stopped.wait(self.every / 4) and time.monotonic() < self.deadline:
                if time.monotonic() - self.lease.renewed_at < self.every:
                    continue
                if not self.lease.renew():
                    return
        except DatabaseError:
            logger.warning("heartbeat of lease %s failed", self.lease.token, exc_info=True)
        finally:
            connections.close_all()

    def stop(self) -> None:
        """End the heartbeat and wait for it."""
        self.stopped.set()
        self.join(timeout=10)
