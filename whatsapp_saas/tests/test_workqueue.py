"""The work-queue helper: claims never overlap, leases fence writes, run out, and are kept alive."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.db.models import F, Q
from django.utils import timezone

from tenants.models import Tenant
from webhooks.models import WebhookEvent as Delivery
from whatsapp_saas.workqueue import LeaseLost, WorkQueue, backoff

LEASE = {"seconds": 30.0}


def queue() -> WorkQueue[Delivery]:
    """Received webhook events as a queue (the helper is generic; any model with the fields)."""
    return WorkQueue(
        Delivery,
        lease=lambda: timedelta(seconds=LEASE["seconds"]),
        ready=Q(status=Delivery.Status.RECEIVED),
        order=("next_attempt_at",),
    )


@pytest.fixture
def rows(tenant: Tenant) -> list[Delivery]:
    """Twenty pending deliveries, due one second apart in the past."""
    now = timezone.now()
    return Delivery.objects.bulk_create(
        [
            Delivery(
                provider="evolution",
                tenant=tenant,
                dedupe_key=f"row-{i}",
                body=b"{}",
                received_at=now,
                next_attempt_at=now - timedelta(seconds=100 - i),
            )
            for i in range(20)
        ]
    )


@pytest.fixture(autouse=True)
def lease_length() -> None:
    """Leases of 30 s unless a test says otherwise."""
    LEASE["seconds"] = 30.0


@pytest.mark.django_db
def test_a_claim_takes_the_oldest_due_rows_and_a_second_claim_never_the_same(
    rows: list[Delivery],
) -> None:
    Delivery.objects.filter(pk=rows[0].pk).update(next_attempt_at=timezone.now() + timedelta(1))
    first = queue().claim(5)
    second = queue().claim(5)
    assert first and second
    assert set(first.ids) == {r.pk for r in rows[1:6]}
    assert set(second.ids) == {r.pk for r in rows[6:11]}
    assert rows[0].pk not in set(first.ids) | set(second.ids)


@pytest.mark.django_db
def test_a_claim_writes_its_changes_and_nothing_is_claimed_when_nothing_is_free(
    rows: list[Delivery],
) -> None:
    lease = queue().claim(20, attempts=F("attempts") + 1)
    assert lease and len(lease.ids) == 20
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    assert queue().claim(1) is None


@pytest.mark.django_db(transaction=True)
def test_workers_claiming_at_once_get_every_row_exactly_once(rows: list[Delivery]) -> None:
    start = threading.Barrier(4)

    def work(_: int) -> list[uuid.UUID]:
        taken: list[uuid.UUID] = []
        try:
            start.wait()
            while (lease := queue().claim(3)) is not None:
                taken += lease.ids
        finally:
            connections.close_all()
        return taken

    with ThreadPoolExecutor(max_workers=4) as pool:
        claimed = [pk for part in pool.map(work, range(4)) for pk in part]
    assert sorted(claimed) == sorted(r.pk for r in rows)


@pytest.mark.django_db
def test_a_lease_that_ran_out_is_taken_over_and_its_old_holder_writes_nothing(
    rows: list[Delivery],
) -> None:
    old = queue().claim(1, where=Q(pk=rows[0].pk))
    assert old is not None and queue().take(rows[0].pk) is None
    assert not queue().expired().exists()
    Delivery.objects.filter(pk=rows[0].pk).update(leased_until=timezone.now())
    assert list(queue().expired()) == [rows[0]]
    new = queue().take(rows[0].pk)
    assert new is not None
    with pytest.raises(LeaseLost), old.fenced():
        Delivery.objects.filter(pk=rows[0].pk).update(error="stale")
    assert old.finish(status=Delivery.Status.PROCESSED) == 0
    assert new.finish(status=Delivery.Status.PROCESSED) == 1
    delivery = Delivery.objects.get(pk=rows[0].pk)
    assert (delivery.status, delivery.error, delivery.lease_token) == ("processed", "", None)


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_keeps_the_lease_while_the_work_goes_on_and_not_after(
    rows: list[Delivery],
) -> None:
    LEASE["seconds"] = 1.0
    lease = queue().take(rows[0].pk)
    assert lease is not None
    with lease.kept_alive(every=0.2, at_most=30):
        time.sleep(2.5)
        assert queue().take(rows[0].pk) is None
    time.sleep(1.2)
    assert queue().take(rows[0].pk) is not None


@pytest.mark.parametrize("tries", range(1, 12))
def test_the_backoff_doubles_with_jitter_and_is_capped(tries: int) -> None:
    ceiling = min(300.0, 5.0 * 2 ** (tries - 1))
    delays = [backoff(tries, 5.0, 300.0) for _ in range(50)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1
