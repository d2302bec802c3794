"""Webhook ingest benchmark: gunicorn on PostgreSQL and Redis, loaded from this second process.

Run `make bench-webhooks` (or `python bench/webhook_ingest.py` with DATABASE_URL and REDIS_URL
pointing at local servers). It uses its own database (`wa_bench_webhooks`) and Redis database
(13, or BENCH_REDIS_DB), talks only to 127.0.0.1, and finishes in under a minute. It prints
accepted requests/s and p50/p99 acknowledgement latency for the webhook endpoint (signed Evolution
`messages.upsert` bodies, a share of them repeated) and for a bare Django view answering 200
through the same middleware in the same gunicorn, and the ratio between the two.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "wa_bench_webhooks"
INSTANCE = "bench-wa1"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


# ------------------------------------------------------------------ the app gunicorn serves


def bare(request: Any) -> Any:
    """The baseline: a view that answers 200 and does nothing else."""
    from django.http import HttpResponse

    return HttpResponse(b'{"ok": true}', content_type="application/json")


@cache
def django_app() -> Any:
    """The project's WSGI app with one extra URL, /bench/bare/ (built once per worker)."""
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    app = get_wsgi_application()
    globals()["urlpatterns"] = [
        path("bench/bare/", csrf_exempt(bare)),
        path("", include("whatsapp_saas.urls")),
    ]
    settings.ROOT_URLCONF = __name__
    return app


def application(environ: dict[str, Any], start_response: Any) -> Any:
    """WSGI entry point for gunicorn (`bench.webhook_ingest:application`)."""
    return django_app()(environ, start_response)


# ------------------------------------------------------------------ setup


def local_only(database_url: str, redis_url: str) -> None:
    """Refuse to run against anything but this machine."""
    db = urlsplit(database_url)
    socket_host = parse_qs(db.query).get("host", [""])[0]
    if not (db.hostname in LOCAL_HOSTS or (not db.hostname and socket_host.startswith("/"))):
        raise SystemExit(f"refusing to benchmark a non-local database: {db.hostname}")
    if urlsplit(redis_url).hostname not in LOCAL_HOSTS:
        raise SystemExit("refusing to benchmark a non-local Redis")


def environment(args: argparse.Namespace) -> dict[str, str]:
    """Settings for the bench process and gunicorn: our own database and Redis database."""
    source_db = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    source_redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    database_url = urlsplit(source_db)._replace(path=f"/{BENCH_DB}").geturl()
    redis_url = urlsplit(source_redis)._replace(path=f"/{args.redis_db}").geturl()
    local_only(database_url, redis_url)
    return {
        "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.base",
        "DEBUG": "0",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "FIELD_ENCRYPTION_KEY": "bench-field-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CACHE_KEY_PREFIX": "wa-bench",
        "LOG_LEVEL": "ERROR",
        "PYTHONWARNINGS": "ignore",
        "PUBLIC_BASE_URL": "http://127.0.0.1",
    }


def prepare_database(env: dict[str, str], name: str = BENCH_DB) -> None:
    """Create the bench database once; migrate (quick when already done)."""
    import psycopg

    url = urlsplit(env["DATABASE_URL"])
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )


def make_number() -> tuple[str, str]:
    """A fresh connected Evolution number for the run; returns (token, secret)."""
    from instances.models import Number
    from tenants.models import Tenant
    from webhooks.models import WebhookEvent

    WebhookEvent.objects.filter(
        provider="evolution", dedupe_key__startswith=f"{INSTANCE}:"
    ).delete()
    Number.objects.filter(instance_name=INSTANCE).delete()
    tenant, _ = Tenant.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    number = Number.objects.create(
        tenant=tenant,
        name="Bench",
        provider="evolution",
        instance_name=INSTANCE,
        provider_instance_id=INSTANCE,
        status="connected",
        phone_number="5511999999999",
    )
    return number.webhook_token, number.webhook_secret


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(env: dict[str, str], args: argparse.Namespace, port: int) -> Any:
    """gunicorn with gthread workers, as in production; returns once it answers."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "bench.webhook_ingest:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(args.threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not start")


# ------------------------------------------------------------------ load


@dataclass
class Phase:
    """What one phase of load saw."""

    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    duplicates_sent: int = 0

    def line(self) -> str:
        """One row of the report."""
        ok = sorted(self.latencies)
        rate = len(ok) / self.seconds if self.seconds else 0.0
        p50 = statistics.median(ok) * 1000 if ok else 0.0
        p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))] * 1000 if ok else 0.0
        errors = sum(n for status, n in self.statuses.items() if status != 200)
        return f"{self.name:<16} {rate:>11.1f} {p50:>8.1f} {p99:>8.1f} {errors:>7}"


class Bodies:
    """Realistic signed messages.upsert bodies; a share repeats an earlier one byte for byte."""

    def __init__(self, secret: str, duplicate_share: float, seed: int = 7) -> None:
        self.secret, self.share = secret, duplicate_share
        self.sent: list[tuple[bytes, str]] = []
        self.rng = random.Random(seed)
        self.duplicates = 0

    def next(self) -> tuple[bytes, str]:
        """The next (body, signature header)."""
        if self.sent and self.rng.random() < self.share:
            self.duplicates += 1
            return self.rng.choice(self.sent[-500:])
        n = len(self.sent)
        body = json.dumps(
            {
                "event": "messages.upsert",
                "instance": INSTANCE,
                "data": {
                    "key": {
                        "remoteJid": f"55119{n % 10**8:08d}@s.whatsapp.net",
                        "fromMe": False,
                        "id": f"3EB0{n:016X}",
                        "addressingMode": "pn",
                    },
                    "pushName": "Customer",
                    "status": "DELIVERY_ACK",
                    "message": {"conversation": f"Hello, this is message {n}"},
                    "contextInfo": None,
                    "messageType": "conversation",
                    "messageTimestamp": int(time.time()),
                    "instanceId": "bench-instance-id",
                    "source": "android",
                },
                "destination": "http://127.0.0.1/webhooks/evolution/<token>/",
                "date_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "sender": "5511999999999@s.whatsapp.net",
                "server_url": "http://127.0.0.1:8081",
                "apikey": None,
            }
        ).encode()
        stamp = int(time.time())
        mac = hmac.new(self.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        self.sent.append((body, f"t={stamp},v1={mac.hexdigest()}"))
        return self.sent[-1]


async def load(
    url: str, bodies: Bodies, secret: str, seconds: float, concurrency: int, phase: Phase | None
) -> None:
    """POST from `concurrency` keep-alive connections for `seconds`; record into `phase`."""
    import aiohttp

    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while time.monotonic() < stop:
                body, signature = bodies.next()
                headers = {
                    "Content-Type": "application/json",
                    "X-Webhook-Token": secret,
                    "X-Webhook-Signature": signature,
                }
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                if phase is not None:
                    phase.statuses[response.status] = phase.statuses.get(response.status, 0) + 1
                    if response.status == 200:
                        phase.latencies.append(time.perf_counter() - started)

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if phase is not None:
            phase.seconds = time.monotonic() - began


def run_phase(name: str, url: str, secret: str, args: argparse.Namespace) -> Phase:
    """A warm-up, then a measured run."""
    bodies = Bodies(secret, args.duplicates)
    asyncio.run(load(url, bodies, secret, args.warmup, args.concurrency, None))
    phase = Phase(name)
    before = bodies.duplicates
    asyncio.run(load(url, bodies, secret, args.seconds, args.concurrency, phase))
    phase.duplicates_sent = bodies.duplicates - before
    return phase


# ------------------------------------------------------------------ main


def report(bare_phase: Phase, ingest: Phase, args: argparse.Namespace) -> None:
    """Print the figures."""
    from django.db.models import Count, Sum

    from webhooks.models import WebhookEvent

    stored = WebhookEvent.objects.filter(dedupe_key__startswith=f"{INSTANCE}:").aggregate(
        rows=Count("id"), duplicates=Sum("duplicates")
    )
    print(
        f"webhook ingest benchmark: gunicorn {args.workers} workers x {args.threads} threads, "
        f"{args.concurrency} connections, {args.seconds:.0f} s per phase, "
        f"{args.duplicates:.0%} duplicates"
    )
    print(f"{'endpoint':<16} {'accepted/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>7}")
    print(bare_phase.line())
    print(ingest.line())
    rate = [len(p.latencies) / p.seconds for p in (bare_phase, ingest)]
    p50 = [statistics.median(p.latencies) for p in (bare_phase, ingest)]
    print(
        f"ratio ingest/bare: throughput {rate[1] / rate[0]:.2f}x, p50 latency "
        f"{p50[1] / p50[0]:.2f}x"
    )
    print(
        f"stored: {stored['rows']} events, {stored['duplicates'] or 0} duplicates counted "
        f"(warm-up included)"
    )


def main() -> None:
    """Set up, serve, load, report, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of repeats")
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", 13)))
    args = parser.parse_args()
    env = environment(args)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    prepare_database(env)
    import django

    django.setup()
    token, secret = make_number()
    port = free_port()
    server = start_gunicorn(env, args, port)
    try:
        base = f"http://127.0.0.1:{port}"
        bare_phase = run_phase("bare 200 view", f"{base}/bench/bare/", secret, args)
        ingest = run_phase("webhook ingest", f"{base}/webhooks/evolution/{token}/", secret, args)
    finally:
        server.terminate()
        server.wait(10)
    report(bare_phase, ingest, args)
    clean_redis(env["REDIS_URL"])


def clean_redis(url: str) -> None:
    """Drop the processing tasks nobody consumes here, and our cache keys."""
    import redis

    client = redis.Redis.from_url(url)
    client.delete("celery")
    keys = list(client.scan_iter("wa-bench:*"))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
