"""Measurements of bench/scale.py: list endpoints (with and without its indexes), task ticks."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import cycle
from typing import Any
from unittest.mock import patch

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.scale_seed import World

# ------------------------------------------------------------------ endpoints


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def endpoint_cases(world: World) -> list[tuple[str, str, Callable[[], str]]]:
    """(group, label, path maker) of every list endpoint and filter."""
    numbers, conversations = cycle(world.sample_numbers), cycle(world.sample_conversations)
    recipients = cycle(world.sample_recipients)
    api = "/api/v1"
    return [
        ("numbers", "GET /numbers/", lambda: f"{api}/numbers/"),
        ("numbers", "GET /numbers/?status=connected", lambda: f"{api}/numbers/?status=connected"),
        ("numbers", "GET /numbers/?status=logged_out", lambda: f"{api}/numbers/?status=logged_out"),
        ("numbers", "GET /numbers/?provider=greenapi", lambda: f"{api}/numbers/?provider=greenapi"),
        ("numbers", "GET /numbers/?limit=200", lambda: f"{api}/numbers/?limit=200"),
        ("events", "GET /numbers/{id}/events/", lambda: f"{api}/numbers/{next(numbers)}/events/"),
        ("messages", "GET /messages/", lambda: f"{api}/messages/"),
        ("messages", "GET /messages/?number=", lambda: f"{api}/messages/?number={next(numbers)}"),
        ("messages", "GET /messages/?to=", lambda: f"{api}/messages/?to={next(recipients)}"),
        (
            "messages",
            "GET /messages/?conversation=",
            lambda: f"{api}/messages/?conversation={next(conversations)}",
        ),
        ("messages", "GET /messages/?status=failed", lambda: f"{api}/messages/?status=failed"),
        ("messages", "GET /messages/?status=queued", lambda: f"{api}/messages/?status=queued"),
        (
            "messages",
            "GET /messages/?direction=inbound",
            lambda: f"{api}/messages/?direction=inbound",
        ),
        (
            "messages",
            "GET /messages/?number=&status=read",
            lambda: f"{api}/messages/?number={next(numbers)}&status=read",
        ),
        ("conversations", "GET /conversations/", lambda: f"{api}/conversations/"),
        (
            "conversations",
            "GET /conversations/?number=",
            lambda: f"{api}/conversations/?number={next(numbers)}",
        ),
        (
            "conversations",
            "GET /conversations/{id}/messages/",
            lambda: f"{api}/conversations/{next(conversations)}/messages/",
        ),
        ("other", "GET /campaigns/", lambda: f"{api}/campaigns/"),
        ("other", "GET /webhook-endpoints/", lambda: f"{api}/webhook-endpoints/"),
        ("other", "GET /api-keys/", lambda: f"{api}/api-keys/"),
        ("other", "GET /health/providers/", lambda: f"{api}/health/providers/"),
    ]


def second_page(client: Client, path: str) -> str | None:
    """The `next` link of a list, as a path."""
    body = client.get(path).json()
    link = body.get("next")
    return link.replace("http://testserver", "") if link else None


def time_requests(
    client: Client, make: Callable[[], str], count: int
) -> tuple[float, float] | None:
    """p50/p95 of `count` requests (after one warm-up; None when this tree does not serve it)."""
    if client.get(make()).status_code == 404:
        return None
    samples = []
    for _ in range(count):
        path = make()
        started = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(
                f"{path} answered {response.status_code}: {response.content[:200]!r}"
            )
    return percentiles(samples)


@contextmanager
def without(indexes: list[str]) -> Iterator[None]:
    """The scale indexes dropped for the duration, inside a transaction that is rolled back."""

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                for name in indexes:
                    cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
            yield
            raise Rollback
    except Rollback:
        pass


def endpoints(world: World, count: int, scale_indexes: dict[str, list[str]]) -> None:
    """Print p50/p95 of every case, with the scale indexes and without them."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {world.api_key}")
    cases = endpoint_cases(world)
    cases.append(("messages", "GET /messages/ page 2", lambda: page2(client, "/api/v1/messages/")))
    cases.append(("numbers", "GET /numbers/ page 2", lambda: page2(client, "/api/v1/numbers/")))
    print(f"\nList endpoints, big tenant, {count} requests each (ms)", flush=True)
    print(f"  {'endpoint':<40} {'p50':>7} {'p95':>7} | {'no-idx p50':>10} {'no-idx p95':>10}")
    worst = 0.0
    for group, label, make in cases:
        timing = time_requests(client, make, count)
        if timing is None:
            print(f"  {label:<40} not served by this tree")
            continue
        p50, p95 = timing
        with without(scale_indexes.get(group, [])):
            b50, b95 = time_requests(client, make, max(5, count // 4)) or (0.0, 0.0)
        worst = max(worst, p95)
        flag = "" if p95 < 50 else "  <-- over 50 ms"
        print(f"  {label:<40} {p50:7.1f} {p95:7.1f} | {b50:10.1f} {b95:10.1f}{flag}", flush=True)
    print(f"  worst p95 with the indexes: {worst:.1f} ms (target < 50 ms)")
    pages(world)


_pages: dict[str, str] = {}


def page2(client: Client, path: str) -> str:
    """The second page of a list (its cursor computed once)."""
    if path not in _pages:
        _pages[path] = second_page(client, path) or path
    return _pages[path]


def fixed(path: str) -> Callable[[], str]:
    """A path maker that always answers `path`."""
    return lambda: path


def pages(world: World) -> None:
    """The operator pages and the scrape, which read across all tenants."""
    client = Client()
    client.force_login(world.operator)
    scrape = Client(HTTP_AUTHORIZATION="Bearer bench-metrics-token")
    print("\nOperator pages and scrape (ms)")
    for label, who, path in [
        ("GET /admin/instances/number/health/", client, "/admin/instances/number/health/"),
        ("GET /metrics", scrape, "/metrics"),
    ]:
        p50, p95 = time_requests(who, fixed(path), 10) or (0.0, 0.0)
        print(f"  {label:<40} {p50:7.1f} {p95:7.1f}", flush=True)


# ------------------------------------------------------------------ periodic tasks


class Calls:
    """Provider calls by gateway method, across every fake gateway."""

    counts: Counter[str] = Counter()
    listed_state: dict[str, str] = {}
    # What the fake provider holds, read before any tick so its queries are not counted.
    instances: dict[str, list[str]] = {}


def fake_gateway_class(real: type) -> type:
    """`real` with every provider call counted and answered locally."""
    from providers.events import ConnectionStatus as S
    from providers.types import ConnectionState, HealthStatus, ProviderInstance

    class Matching:
        def matches(self, desired: Any) -> bool:
            return True

    class Fake(real):
        def _count(self, method: str) -> None:
            Calls.counts[f"{self.name}.{method}"] += 1

        def list_instances(self) -> list[ProviderInstance]:
            self._count("list_instances")
            return [
                ProviderInstance(
                    ref=type(self)._ref(name),
                    state=ConnectionState(S(Calls.listed_state.get(name, "connected"))),
                )
                for name in Calls.instances[self.name]
            ]

        @staticmethod
        def _ref(name: str) -> Any:
            from providers.types import InstanceRef

            return InstanceRef(name)

        def get_state(self, ref: Any) -> ConnectionState:
            self._count("get_state")
            return ConnectionState(S(Calls.listed_state.get(ref.external_id, "connected")))

        def get_instance(self, ref: Any) -> ProviderInstance:
            self._count("get_instance")
            return ProviderInstance(ref=ref, phone="5511999999999")

        def health(self, ref: Any = None) -> HealthStatus:
            self._count("health")
            return HealthStatus(reachable=True, response_ms=1.0)

        def get_webhook(self, ref: Any) -> Any:
            self._count("get_webhook")
            return Matching()

        def restart(self, ref: Any) -> None:
            self._count("restart")

        def delete_instance(self, ref: Any) -> None:
            self._count("delete_instance")

    Fake.__name__ = f"Counting{real.__name__}"
    return Fake


@contextmanager
def counting_providers() -> Iterator[None]:
    """Every gateway from the registry replaced by its counting fake; Celery publishes dropped."""
    from celery.app.task import Task

    from instances.models import Number
    from providers import registry

    for name in registry.PROVIDERS:
        Calls.instances[name] = [
            pid or instance
            for pid, instance in Number.objects.filter(provider=name).values_list(
                "provider_instance_id", "instance_name"
            )
        ]
    original_class = registry.get_gateway_class
    fakes = {name: fake_gateway_class(original_class(name)) for name in registry.PROVIDERS}
    registry.get_gateway_class = lambda name: fakes[name]

    def publish(self: Any, *args: Any, **kwargs: Any) -> None:
        Calls.counts.update(["celery.publish"])

    try:
        with patch.object(Task, "apply_async", publish):
            yield
    finally:
        registry.get_gateway_class = original_class


def tick(label: str, run: Callable[[], Any]) -> None:
    """Run one tick; print provider calls, queries and time."""
    Calls.counts.clear()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        run()
        elapsed = (time.perf_counter() - started) * 1000
    calls = sum(n for k, n in Calls.counts.items() if k != "celery.publish")
    detail = ", ".join(f"{k} {n}" for k, n in sorted(Calls.counts.items()))
    print(f"  {label:<46} {calls:>6} {len(queries):>7} {elapsed:9.0f}  {detail}", flush=True)


def ticks(world: World) -> None:
    """One tick of every scheduled task, then reconcile at other scales."""
    from django.utils.module_loading import import_string

    from instances import reconcile
    from whatsapp_saas.celery import app

    print("\nOne tick of every periodic task (fake gateway counts provider calls)")
    print(f"  {'task':<46} {'calls':>6} {'queries':>7} {'ms':>9}  detail")
    with counting_providers():
        for entry in app.conf.beat_schedule.values():
            task = import_string(entry["task"])
            tick(entry["task"].rsplit(".", 1)[-1], task)
        tick("sync_provider_instances(evolution)", lambda: sync_one("evolution"))
        print("\n  reconcile, Evolution part, by connected numbers and changes applied")
        reconcile_scales(reconcile)


def sync_one(provider: str) -> None:
    """The daily sync of one provider (the task fans these out)."""
    from instances.tasks import sync_provider_instances

    sync_provider_instances(provider)


def reconcile_scales(reconcile: Any) -> None:
    """from_listing at all connected, a tenth of them, and with ten listed changes."""
    from instances.models import Number
    from providers.registry import get_gateway

    gateway = get_gateway("evolution")
    connected = list(
        Number.objects.filter(provider="evolution", status="connected").values_list(
            "pk", "instance_name"
        )
    )
    tick(
        f"from_listing, {len(connected)} connected",
        lambda: reconcile.from_listing("evolution", gateway),
    )

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            keep = {pk for pk, _ in connected[: len(connected) // 10]}
            Number.objects.filter(provider="evolution", status="connected").exclude(
                pk__in=keep
            ).update(status="disconnected")
            tick(
                f"from_listing, {len(keep)} connected",
                lambda: reconcile.from_listing("evolution", gateway),
            )
            raise Rollback
    except Rollback:
        pass
    for _, name in connected[:10]:
        Calls.listed_state[name] = "disconnected"
    try:
        with transaction.atomic():
            tick(
                f"from_listing, {len(connected)} connected, 10 changes",
                lambda: reconcile.from_listing("evolution", gateway),
            )
            raise Rollback
    except Rollback:
        pass
    Calls.listed_state.clear()
