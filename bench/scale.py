"""Scale benchmark: 10,000 numbers and 1,000,000 messages; list endpoints and periodic task ticks.

Run `make bench-scale` (or `python bench/scale.py` with DATABASE_URL and REDIS_URL pointing at
local servers). It creates its own database (`wa_bench_scale`, or --database) and uses its own
Redis database (11, or --redis-db), seeds in bulk with server-side INSERT … SELECT (one tenant
holds 5,000 numbers and 500,000 messages, ten others share the rest), then prints:

- p50 / p95 of every list endpoint and filter of the API (in-process test client, real database),
  with the scale indexes and, in the same run, without them (dropped inside a transaction that is
  rolled back), so the two columns compare under the same machine load;
- for one tick of every periodic task: the provider calls (a counting fake gateway), the database
  queries and the time; for reconcile also at a tenth of the connected numbers and with ten
  changes, to show what grows with what.

The database is dropped at the end (keep it with --keep). Talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "wa_bench_scale"
SCALE_INDEXES = {
    "numbers": ["number_live_tenant_newest"],
    "messages": ["message_tenant_recipient", "message_number_newest"],
    "conversations": ["conversation_tenant_newest", "conversation_number_newest"],
    "events": ["connevent_number_newest"],
}


def configure(args: argparse.Namespace) -> None:
    """Point Django at the bench database and Redis database before it starts."""
    source_db = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    source_redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    database = urlsplit(source_db)._replace(path=f"/{args.database}")
    redis_url = urlsplit(source_redis)._replace(path=f"/{args.redis_db}")
    for url in (database, redis_url):
        if url.hostname not in {"127.0.0.1", "localhost", "::1"}:
            sys.exit(f"refusing to run against {url.hostname}: local servers only")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.base",
            "DEBUG": "0",
            # Plain HTTP on 127.0.0.1: production settings would redirect every request to https.
            "SECURE_SSL_REDIRECT": "0",
            "SECRET_KEY": "bench-secret-key-" + "x" * 40,
            "FIELD_ENCRYPTION_KEY": "bench-field-key",
            "ALLOWED_HOSTS": "testserver,127.0.0.1",
            "DATABASE_URL": database.geturl(),
            "REDIS_URL": redis_url.geturl(),
            "CELERY_BROKER_URL": redis_url.geturl(),
            "CACHE_KEY_PREFIX": "wa-bench-scale",
            "API_THROTTLE_RATE": "100000000/min",
            "LOG_LEVEL": "ERROR",
            "METRICS_TOKEN": "bench-metrics-token",
            "DB_CONN_MAX_AGE": "0",
        }
    )
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def bench_db() -> str:
    """The bench database's name (from --database, set in the environment by `configure`)."""
    return urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")


def admin_url() -> str:
    """The maintenance database of the same server."""
    return urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres").geturl()


def create_database() -> None:
    """A fresh bench database, migrated."""
    import psycopg

    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench_db()}"')
        conn.execute(f'CREATE DATABASE "{bench_db()}"')
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Pages render without collectstatic (the production manifest storage needs it).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    call_command("migrate", verbosity=0)


def drop_database() -> None:
    """Remove the bench database."""
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench_db()}" WITH (FORCE)')


def timed(label: str, fn: Callable[[], Any]) -> Any:
    """Run `fn`, print how long it took."""
    started = time.monotonic()
    result = fn()
    print(f"  {label:<44} {time.monotonic() - started:6.1f} s", flush=True)
    return result


def main() -> int:
    """Seed, measure, print, drop."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=10_000)
    parser.add_argument("--messages-per-number", type=int, default=100)
    parser.add_argument("--requests", type=int, default=40, help="requests per endpoint")
    parser.add_argument("--database", default=os.environ.get("BENCH_DB", BENCH_DB))
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    configure(args)
    one, five, _ = os.getloadavg()
    print(f"load: {one:.2f} {five:.2f} (1 and 5 min), {os.cpu_count()} cores")
    started = time.monotonic()
    timed("create and migrate the database", create_database)
    from bench import scale_measure, scale_seed

    try:
        world = scale_seed.seed(args.numbers, args.messages_per_number, timed)
        print(f"  seeded in {time.monotonic() - started:.0f} s: {world.summary()}", flush=True)
        scale_measure.endpoints(world, args.requests, SCALE_INDEXES)
        scale_measure.ticks(world)
    finally:
        if not args.keep:
            drop_database()
            print("bench database dropped")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1 and 5 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
