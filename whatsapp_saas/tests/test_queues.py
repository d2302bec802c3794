"""Every task has its queue: send, events, notify or maintenance; periodic chores on maintenance."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.conf import settings

from whatsapp_saas.celery import app

QUEUES = {"send", "events", "notify", "maintenance"}
OUR_APPS = (
    "tenants.",
    "providers.",
    "instances.",
    "messaging.",
    "webhooks.",
    "whatsapp_saas.",
    "notifications.",
)


def our_tasks() -> list[str]:
    """Names of the registered tasks of our apps (Celery's own are left out)."""
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if name.startswith(OUR_APPS))


def explicit_queue(name: str, options: dict[str, Any] | None = None) -> str | None:
    """The queue a task is routed to by CELERY_TASK_ROUTES (None: it would fall to the default)."""
    route = app.amqp.router.lookup_route(name, (), {}, options or {}, None)
    if not route:
        return None
    queue = route["queue"]
    return str(getattr(queue, "name", queue))


def test_every_task_of_our_apps_is_routed_to_one_of_the_four_queues() -> None:
    tasks = our_tasks()
    assert "messaging.tasks.run_lane" in tasks and "notifications.tasks.deliver" in tasks
    routes = {name: explicit_queue(name) for name in tasks}
    assert {name: queue for name, queue in routes.items() if queue not in QUEUES} == {}


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("messaging.tasks.send_message", "send"),
        ("messaging.tasks.run_lane", "send"),  # a future task of the send pipeline, by pattern
        ("webhooks.tasks.process_webhook_event", "events"),
        ("notifications.tasks.deliver", "notify"),
        ("instances.tasks.sync_provider_instances", "maintenance"),
    ],
)
def test_each_kind_of_work_has_its_own_queue(task: str, queue: str) -> None:
    assert explicit_queue(task) == queue
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_periodic_chore_runs_on_maintenance() -> None:
    for name, entry in app.conf.beat_schedule.items():
        options = entry.get("options", {})
        routed = app.amqp.router.route(dict(options), entry["task"])
        assert routed["queue"].name == "maintenance", name


def test_no_periodic_chore_expires_before_its_next_run_is_due() -> None:
    # The single queue dropped sweep_outbox 23 times (expires=15 behind 1,021 deliveries): a
    # chore now outlives several of its periods, and at least a minute.
    for name, entry in app.conf.beat_schedule.items():
        if isinstance(entry["schedule"], (int, float)):
            expires = entry["options"]["expires"]
            assert expires >= 2 * entry["schedule"] and expires >= 60, name


def test_an_unrouted_task_falls_to_a_queue_that_workers_serve_not_to_celery() -> None:
    assert settings.CELERY_TASK_DEFAULT_QUEUE in QUEUES
    assert app.amqp.router.route({}, "somewhere.tasks.new")["queue"].name == "maintenance"
    assert {queue.name for queue in app.amqp.queues.values()} == QUEUES


def worker_queues(command: list[str]) -> set[str]:
    """The queues a `celery worker` command line consumes (none given: every declared queue)."""
    if "-Q" not in command:
        return set(QUEUES)
    return set(command[command.index("-Q") + 1].split(","))


def test_docker_compose_runs_a_worker_service_per_group_and_one_beat() -> None:
    services = yaml.safe_load((settings.BASE_DIR / "docker-compose.yml").read_text())["services"]
    workers = {n: s for n, s in services.items() if s.get("command", [None])[3:4] == ["worker"]}
    served = [worker_queues(s["command"]) for s in workers.values()]
    assert set().union(*served) == QUEUES and sum(map(len, served)) == len(QUEUES)
    for name, service in workers.items():
        assert "--concurrency" in service["command"] and service["deploy"]["replicas"], name
        assert "inspect ping" in service["healthcheck"]["test"][1], name
    assert [n for n, s in services.items() if "beat" in s.get("command", [])] == ["beat"]


def test_the_local_run_serves_every_queue_and_runs_one_beat() -> None:
    lines = (settings.BASE_DIR / "Procfile.dev").read_text().splitlines()
    commands = [line.split(":", 1)[1].split() for line in lines if line.strip()]
    workers = [c for c in commands if c[:4] == ["celery", "-A", "whatsapp_saas", "worker"]]
    assert set().union(*(worker_queues(c) for c in workers)) == QUEUES
    assert sum(c[:4] == ["celery", "-A", "whatsapp_saas", "beat"] for c in commands) == 1
