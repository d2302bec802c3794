"""Webhook ingest benchmark: gunicorn on PostgreSQL and Redis, loaded from this second process.

Run `make bench-webhooks` (or `python bench/webhook_ingest.py` with DATABASE_URL and REDIS_URL
pointing at local servers). It uses its own database (`wa_bench_webhooks`, or --database) and
Redis database (13, or BENCH_REDIS_DB), talks only to 127.0.0.1, and stops by itself.

In one gunicorn it loads, closed loop from N keep-alive connections: a bare Django view answering
200, a "durable insert" Django view that only inserts the same row the webhook stores (the floor
for an ack that keeps the event), the same insert served from bare WSGI (the floor of the webhook
fast path, webhooks/fastpath.py), and the webhook endpoint itself as production serves it (the
fast path ahead of Django) with the in-process route cache on and off (Evolution
`messages.upsert` bodies, a share repeated). It prints accepted/s, p50/p99 and the
ratios, then an open-loop phase at a fixed rate against the webhook endpoint, with latency
measured from each request's intended send time (so a stall is not hidden by the client waiting),
and the count of non-2xx answers and timeouts. A last block times the route lookups in-process.
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


def durable(request: Any) -> Any:
    """The floor: insert the row the webhook would store (the same statement), answer 200."""
    from django.http import HttpResponse

    insert_row(request.body, request.headers.get("Content-Type", ""))
    return HttpResponse(b'{"ok": true}', content_type="application/json")


def insert_row(body: bytes, content_type: str) -> None:
    """The statement the webhook's ack runs, with the same values."""
    from django.utils import timezone

    from webhooks import ingest

    ingest.insert_or_count(
        {
            "provider": "evolution",
            "number_id": os.environ["BENCH_NUMBER_ID"],
            "tenant_id": os.environ["BENCH_TENANT_ID"],
            "body": body,
            "headers": {"Content-Type": content_type},
            "event_name": "messages.upsert",
            "event_type": "",
            "dedupe_key": f"{INSTANCE}:durable:{hashlib.sha256(body).hexdigest()}",
            "duplicates": 0,
            "status": "received",
            "error": "",
            "attempts": 0,
            "received_at": timezone.now(),
        }
    )


def wsgi_durable(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The floor of the WSGI fast path: the same insert with nothing but WSGI around it."""
    from webhooks.fastpath import release_connections

    try:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        insert_row(body, environ.get("CONTENT_TYPE", ""))
    finally:
        release_connections()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"ok": true}']


@cache
def django_app() -> Any:
    """The project's WSGI app with the /bench/ views (built once per worker)."""
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    app = get_wsgi_application()
    globals()["urlpatterns"] = [
        path("bench/bare/", csrf_exempt(bare)),
        path("bench/durable/", csrf_exempt(durable)),
        path("", include("whatsapp_saas.urls")),
    ]
    settings.ROOT_URLCONF = __name__
    return app


@cache
def served() -> Any:
    """What production serves: the webhook fast path ahead of Django (whatsapp_saas.wsgi)."""
    app = django_app()  # sets Django up before the fast path's imports
    from webhooks.fastpath import WebhookFastPath

    return WebhookFastPath(app)


def application(environ: dict[str, Any], start_response: Any) -> Any:
    """WSGI entry point for gunicorn (`bench.webhook_ingest:application`)."""
    path = environ["PATH_INFO"]
    if path == "/bench/wsgi-durable/":
        return wsgi_durable(environ, start_response)
    if path.startswith("/bench/uncached/"):
        from webhooks import routes

        # The webhook endpoint with the route cache emptied first: one indexed lookup every time.
        routes.forget_all()
        environ["PATH_INFO"] = path.replace("/bench/uncached/", "/webhooks/", 1)
    return served()(environ, start_response)


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
    database_url = urlsplit(source_db)._replace(path=f"/{args.database}").geturl()
    redis_url = urlsplit(source_redis)._replace(path=f"/{args.redis_db}").geturl()
    local_only(database_url, redis_url)
    return {
        "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.base",
        "DEBUG": "0",
        # Plain HTTP on 127.0.0.1: production settings would redirect every request to https.
        "SECURE_SSL_REDIRECT": "0",
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


def prepare_database(env: dict[str, str], name: str) -> None:
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


def set_up(
    parser: argparse.ArgumentParser, database: str, redis_db: int, **settings: str
) -> tuple[argparse.Namespace, dict[str, str]]:
    """Parse the arguments (plus --database and --redis-db), prepare our database, start Django.

    `settings` are extra environment settings for this process and the servers it starts.
    """
    parser.add_argument("--database", default=os.environ.get("BENCH_DB", database))
    parser.add_argument(
        "--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", redis_db))
    )
    args = parser.parse_args()
    env = {**environment(args), **settings}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    prepare_database(env, args.database)
    import django

    django.setup()
    return args, env


def make_number() -> tuple[str, str, str, str]:
    """A fresh connected Evolution number; returns (token, secret, number id, tenant id)."""
    from instances.models import Number
    from tenants.models import Tenant
    from webhooks.models import WebhookEvent

    WebhookEvent.objects.filter(
        provider="evolution", dedupe_key__startswith=f"{INSTANCE}:"
    ).delete()
    Number.objects.filter(instance_name=INSTANCE).delete()
    tenant, _ = Tenant.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    number = connected_number(tenant, INSTANCE)
    return number.webhook_token, number.webhook_secret, str(number.pk), str(tenant.pk)


def connected_number(tenant: Any, instance: str) -> Any:
    """A connected Evolution number made in the database (no provider involved)."""
    from instances.models import Number

    return Number.objects.create(
        tenant=tenant,
        name="Bench",
        provider="evolution",
        instance_name=instance,
        provider_instance_id=instance,
        status="connected",
        phone_number="5511999999999",
    )


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
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})  # noqa: S603 - our own argv
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
    timeouts: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Accepted (200) answers per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        """Latency at `share` (0..1) of the accepted answers, in ms."""
        ok = sorted(self.latencies)
        if not ok:
            return 0.0
        if share == 0.5:
            return statistics.median(ok) * 1000
        return ok[min(len(ok) - 1, int(len(ok) * share))] * 1000

    @property
    def errors(self) -> int:
        """Answers other than 200."""
        return sum(n for status, n in self.statuses.items() if status != 200)

    def line(self) -> str:
        """One row of the closed-loop table."""
        return (
            f"{self.name:<28} {self.rate:>11.1f} {self.percentile(0.5):>8.1f} "
            f"{self.percentile(0.99):>8.1f} {self.errors:>7}"
        )

    def count(self, status: int) -> None:
        """Record one answer's status."""
        self.statuses[status] = self.statuses.get(status, 0) + 1


class Bodies:
    """Evolution messages.upsert bodies; a share repeats an earlier one byte for byte."""

    def __init__(self, tag: str, secret: str, args: argparse.Namespace) -> None:
        self.tag, self.secret, self.sign = tag, secret, args.sign
        self.share = args.duplicates
        self.sent: list[tuple[bytes, dict[str, str]]] = []
        self.rng = random.Random(f"{tag}-7")  # noqa: S311 - load shape, not a secret

    def next(self) -> tuple[bytes, dict[str, str]]:
        """The next (body, headers)."""
        if self.sent and self.rng.random() < self.share:
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
                        "id": f"3EB0{self.tag}{n:012X}",
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
        # Evolution sends our secret in a custom header and signs nothing (reference 1.8).
        headers = {"Content-Type": "application/json", "X-Webhook-Token": self.secret}
        if self.sign:
            stamp = int(time.time())
            mac = hmac.new(self.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
            headers["X-Webhook-Signature"] = f"t={stamp},v1={mac.hexdigest()}"
        self.sent.append((body, headers))
        return self.sent[-1]


async def closed_loop(
    url: str, bodies: Bodies, seconds: float, concurrency: int, phase: Phase | None
) -> None:
    """POST from `concurrency` keep-alive connections for `seconds`; record into `phase`."""
    import aiohttp

    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while time.monotonic() < stop:
                body, headers = bodies.next()
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                if phase is not None:
                    phase.count(response.status)
                    if response.status == 200:
                        phase.latencies.append(time.perf_counter() - started)

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if phase is not None:
            phase.seconds = time.monotonic() - began


def run_closed(name: str, url: str, tag: str, secret: str, args: argparse.Namespace) -> Phase:
    """A warm-up, then a measured closed-loop run."""
    bodies = Bodies(tag, secret, args)
    asyncio.run(closed_loop(url, bodies, args.warmup, args.concurrency, None))
    phase = Phase(name)
    asyncio.run(closed_loop(url, bodies, args.seconds, args.concurrency, phase))
    return phase


async def open_loop(url: str, bodies: Bodies, args: argparse.Namespace, phase: Phase) -> None:
    """Send at a fixed rate whatever the answers do; latency from each intended send time."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=args.open_connections)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(intended: float, body: bytes, headers: dict[str, str]) -> None:
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
            except (TimeoutError, aiohttp.ClientError):
                phase.timeouts += 1
                return
            phase.count(response.status)
            if response.status == 200:
                phase.latencies.append(time.perf_counter() - intended)

        total = int(args.rate * args.open_seconds)
        start = time.perf_counter() + 0.1
        tasks = []
        for i in range(total):
            intended = start + i / args.rate
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(intended, *bodies.next())))
        await asyncio.gather(*tasks)
        phase.seconds = args.open_seconds


# ------------------------------------------------------------------ in-process lookup costs


def lookup_costs(token: str, rounds: int = 2000) -> list[tuple[str, float]]:
    """µs per lookup: the indexed query, a route cache hit, and the dropped Redis routing cache."""
    from django.core.cache import cache as redis_cache

    from instances.models import Number, hash_secret
    from webhooks import routes

    def indexed() -> object:
        return routes.query(hash_secret(token))

    def in_process() -> object:
        return routes.route_for(token)

    def redis_then_row() -> object:
        # What the ack did before: route from Redis, the row by primary key, two decryptions.
        route = redis_cache.get(f"bench-route:{hash_secret(token)}")
        if route is None:
            route = {"number_id": str(Number.objects.get(webhook_token_hash=hash_secret(token)).pk)}
            redis_cache.set(f"bench-route:{hash_secret(token)}", route, 60)
        number = Number.objects.filter(pk=route["number_id"]).first()
        return number and (number.webhook_secret, number.previous_webhook_secret)

    costs = []
    for name, fn in [
        ("indexed lookup (one SELECT)", indexed),
        ("route cache hit (in-process)", in_process),
        ("Redis route + row + 2 Fernet", redis_then_row),
    ]:
        for _ in range(100):
            fn()
        started = time.perf_counter()
        for _ in range(rounds):
            fn()
        costs.append((name, (time.perf_counter() - started) / rounds * 1e6))
    redis_cache.delete(f"bench-route:{hash_secret(token)}")
    return costs


# ------------------------------------------------------------------ main


def uptime() -> str:
    """The machine's load, as `uptime` prints it."""
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)  # noqa: S607 - fixed
    return done.stdout.strip()


def report(phases: dict[str, Phase], open_phase: Phase, args: argparse.Namespace) -> None:
    """Print the figures."""
    print(
        f"webhook ingest benchmark: gunicorn {args.workers} workers x {args.threads} threads, "
        f"{args.concurrency} connections, {args.seconds:.0f} s per phase, "
        f"{args.duplicates:.0%} duplicates, {'signed' if args.sign else 'unsigned'} bodies"
    )
    print(f"{'closed loop':<28} {'accepted/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>7}")
    for phase in phases.values():
        print(phase.line())
    bare, floor = phases["bare"].rate, phases["durable"].rate
    wsgi_floor = phases["wsgi_durable"].rate
    for key in ("ingest", "uncached"):
        rate = phases[key].rate
        print(
            f"ratio {phases[key].name}: {rate / floor:.2f}x durable insert view, "
            f"{rate / bare:.2f}x bare view, {rate / wsgi_floor:.2f}x durable insert on bare WSGI"
        )
    print(
        f"open loop {args.rate:.0f} req/s for {args.open_seconds:.0f} s (webhook ingest): "
        f"p50 {open_phase.percentile(0.5):.1f} ms, p99 {open_phase.percentile(0.99):.1f} ms "
        f"from intended send time, {len(open_phase.latencies)} accepted, "
        f"{open_phase.errors} non-2xx, {open_phase.timeouts} timeouts (> {args.timeout:.0f} s)"
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
    parser.add_argument("--sign", action="store_true", help="add X-Webhook-Signature (HMAC)")
    parser.add_argument("--rate", type=float, default=300.0, help="open-loop requests/s")
    parser.add_argument("--open-seconds", type=float, default=60.0, help="open-loop duration")
    parser.add_argument("--open-connections", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=5.0, help="open-loop request timeout")
    args, env = set_up(parser, BENCH_DB, 13)
    token, secret, number_id, tenant_id = make_number()
    env.update(BENCH_NUMBER_ID=number_id, BENCH_TENANT_ID=tenant_id)
    print(f"load before: {uptime()}")
    port = free_port()
    server = start_gunicorn(env, args, port)
    base = f"http://127.0.0.1:{port}"
    try:
        phases = {
            "bare": run_closed("bare 200 view", f"{base}/bench/bare/", "A", secret, args),
            "durable": run_closed(
                "durable insert view", f"{base}/bench/durable/", "B", secret, args
            ),
            "wsgi_durable": run_closed(
                "durable insert, bare WSGI", f"{base}/bench/wsgi-durable/", "W", secret, args
            ),
            "ingest": run_closed(
                "webhook ingest", f"{base}/webhooks/evolution/{token}/", "C", secret, args
            ),
            "uncached": run_closed(
                "webhook ingest, no cache",
                f"{base}/bench/uncached/evolution/{token}/",
                "D",
                secret,
                args,
            ),
        }
        open_phase = Phase("open loop")
        asyncio.run(
            open_loop(
                f"{base}/webhooks/evolution/{token}/", Bodies("E", secret, args), args, open_phase
            )
        )
    finally:
        server.terminate()
        server.wait(10)
    report(phases, open_phase, args)
    print(
        "route lookup in-process: " + ", ".join(f"{n} {us:.0f} us" for n, us in lookup_costs(token))
    )
    print(f"load after: {uptime()}")
    clean_redis(env["REDIS_URL"])


def clean_redis(url: str) -> None:
    """Drop the processing wake-ups nobody consumes here, and our cache keys."""
    import redis

    client = redis.Redis.from_url(url)
    client.delete("celery", "events")
    keys = list(client.scan_iter("wa-bench:*"))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
