"""Workers survive PostgreSQL: a crash and restart of a cluster of the test's own.

The machine's shared PostgreSQL is never touched: the worker here talks to a cluster this test
creates (initdb in a temp dir, a free port) and stops with `pg_ctl -m immediate` (a crash: every
backend killed, no checkpoint).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .processes import Celery, PostgresServer, RedisServer, app_env, wait_for

PROBE = "whatsapp_saas.tests.probe_tasks"


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A running PostgreSQL of this test alone."""
    server = PostgresServer()
    server.init()
    server.start()
    yield server
    server.remove()


def recorded(tokens: Path) -> dict[str, str]:
    """token → the database process that answered it."""
    pairs = (line.split() for line in tokens.read_text().splitlines() if line)
    return {token: pid for token, pid in pairs}


def test_a_worker_outlives_a_postgresql_crash_and_its_tasks_retry_until_it_is_back(
    postgres: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    # Production settings (persistent connections with health checks), not the test settings.
    env = app_env(
        redis_server.url,
        DJANGO_SETTINGS_MODULE="whatsapp_saas.settings.base",
        DATABASE_URL=postgres.url,
        REDIS_URL=redis_server.url,
        SECRET_KEY="s" * 50,
        FIELD_ENCRYPTION_KEY="k" * 32,
        DB_CONN_MAX_AGE="600",
    )
    worker = Celery.worker(tmp_path / "maintenance.log", env, "maintenance", 1, "-I", PROBE)
    tokens = tmp_path / "tokens.txt"
    tokens.touch()

    def run(token: str) -> None:
        from whatsapp_saas.celery import app

        with app.connection_for_write(redis_server.url) as conn:
            app.send_task("probe.query", (str(tokens), token), connection=conn)

    try:
        run("before")
        wait_for(lambda: "before" in recorded(tokens), 60, "a query before the crash")

        postgres.crash()
        run("during")  # hits the dead connection, then a refused one, and retries
        time.sleep(5)
        assert "during" not in recorded(tokens)
        postgres.start()
        run("after")

        wait_for(
            lambda: {"during", "after"} <= set(recorded(tokens)),
            90,
            "the queries of and after the outage",
        )
        done = recorded(tokens)
        assert done["after"] != done["before"]  # a new connection, not the dead one
        assert not worker.exited(), worker.text()[-3000:]
        assert worker.text().count(" ready.") == 1
    finally:
        worker.stop()
