"""Send benchmark: the API, real Celery workers and the sandbox provider on PostgreSQL and Redis.

Run `make bench-send` (or `python bench/send_throughput.py` with DATABASE_URL and REDIS_URL
pointing at local servers). It uses its own database (`wa_bench_send`) and Redis database (12, or
BENCH_REDIS_DB), talks only to 127.0.0.1 and finishes in about a minute. N numbers linked at a
sandbox subprocess get M text messages through POST /api/v1/messages/ (gunicorn); worker
subprocesses send them. Printed per run: messages/s end to end (first API accept → last `sent`),
latency, the highest sends of one number in any one-second window against its limit, duplicates
at the provider (the sandbox's message log) and messages lost. The second run SIGKILLs a worker
(its whole process group) twice mid-run and starts a replacement each time. This process plays
Celery beat: it runs the outbox sweep every two seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import webhook_ingest  # noqa: E402

BENCH_DB = "wa_bench_send"
SANDBOX_KEY = "bench-sandbox-key"
BURST = 3  # messaging.ratelimit.DEFAULT_BURST


def environment(args: argparse.Namespace, sandbox_url: str, api_url: str) -> dict[str, str]:
    """The webhook benchmark's settings (local only) on our own database, plus short leases."""
    env = webhook_ingest.environment(args)
    env["DATABASE_URL"] = urlsplit(env["DATABASE_URL"])._replace(path=f"/{BENCH_DB}").geturl()
    return {
        **env,
        "CACHE_KEY_PREFIX": "wa-bench-send",
        "PUBLIC_BASE_URL": api_url,
        "EVOLUTION_API_URL": sandbox_url,
        "EVOLUTION_API_KEY": SANDBOX_KEY,
        "API_THROTTLE_RATE": "1000000/min",
        "SEND_LEASE_SECONDS": "5",
        "PROVIDER_CONNECT_TIMEOUT": "2",
        "PROVIDER_READ_TIMEOUT": "3",
    }


def prepare_database(env: dict[str, str]) -> None:
    """Create the bench database once; migrate (quick when already done)."""
    import psycopg

    admin = urlsplit(env["DATABASE_URL"])._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )


# ------------------------------------------------------------------ processes


class Processes:
    """The sandbox, gunicorn and the workers; each in its own process group."""

    def __init__(self, env: dict[str, str], args: argparse.Namespace) -> None:
        self.env, self.args = {**os.environ, **env}, args
        self.workers: list[subprocess.Popen[bytes]] = []
        self.others: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def spawn(self, command: list[str], quiet: bool = False) -> subprocess.Popen[bytes]:
        """Start a child in a new session, so a kill reaches its pool processes too."""
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if quiet else None,
        )

    def sandbox(self, port: int) -> None:
        """The sandbox provider: no automatic receipts, real clock."""
        self.others.append(
            self.spawn(
                [
                    sys.executable,
                    "-m",
                    "sandbox",
                    "--port",
                    str(port),
                    "--evolution-api-key",
                    SANDBOX_KEY,
                    "--seed",
                    "1",
                    "--no-auto-receipts",
                ],
                quiet=True,
            )
        )

    def gunicorn(self, port: int) -> None:
        """The API as in production: gthread workers."""
        self.others.append(
            self.spawn(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "whatsapp_saas.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "8",
                    "--log-level",
                    "warning",
                ]
            )
        )

    def worker(self) -> None:
        """One Celery worker (prefork)."""
        self.started += 1
        self.workers.append(
            self.spawn(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "whatsapp_saas",
                    "worker",
                    "-P",
                    "prefork",
                    "-c",
                    str(self.args.concurrency),
                    "-n",
                    f"bench{self.started}@%h",
                    "-l",
                    "ERROR",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ]
            )
        )

    def kill_worker(self) -> None:
        """SIGKILL the oldest worker's whole process group; start a replacement."""
        victim = self.workers.pop(0)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(10)
        self.worker()

    def stop(self) -> None:
        """Terminate everything this benchmark started."""
        for process in self.workers + self.others:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in self.workers + self.others:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def wait_until_up(url: str, seconds: float = 30) -> None:
    """Return once `url` answers at all."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


# ------------------------------------------------------------------ setup in the database


def make_world(args: argparse.Namespace, sandbox_url: str) -> tuple[str, list[str]]:
    """A fresh tenant with an API key and N numbers linked at the sandbox."""
    from instances import services
    from instances.models import Number
    from messaging.models import Message
    from tenants.models import Tenant
    from tenants.services import create_tenant, issue_api_key

    Message.objects.filter(tenant__slug__startswith="bench-send").delete()
    Number.objects.filter(tenant__slug__startswith="bench-send").delete()
    Tenant.objects.filter(slug__startswith="bench-send").delete()
    tenant = create_tenant("bench-send", max_numbers=args.numbers)
    _, key = issue_api_key(tenant, "bench", ["messages:send", "messages:read"])
    numbers = []
    for i in range(args.numbers):
        number = services.connect(
            services.create_number(tenant, name=f"n{i}", provider="evolution")
        )
        requests.post(
            f"{sandbox_url}/_sandbox/evolution/instances/{number.instance_name}/scan",
            json={"phone": f"55119{i:08d}"},
            timeout=10,
        ).raise_for_status()
        services.update_number(number, send_rate_per_minute=args.rate)
        numbers.append(str(number.pk))
    settle(numbers)
    return key, numbers


def settle(numbers: list[str]) -> None:
    """Let the workers apply the linking webhooks, then reconcile each number by a poll."""
    from instances import services
    from instances.models import Number
    from webhooks.models import WebhookEvent

    deadline = time.monotonic() + 20
    while WebhookEvent.objects.filter(status__in=["received", "processing"]).exists():
        if time.monotonic() > deadline:
            raise SystemExit("webhooks were not processed; are the workers running?")
        time.sleep(0.2)
    for number in Number.objects.filter(pk__in=numbers):
        if services.check_state(number).status != "connected":
            raise SystemExit(f"{number.instance_name} did not connect")


# ------------------------------------------------------------------ one run


@dataclass
class Run:
    """What one run sent and saw."""

    name: str
    accepted: list[str]
    kills: int = 0


async def post_all(
    api_url: str, key: str, numbers: list[str], run: str, count: int, concurrency: int
) -> list[str]:
    """POST `count` messages round robin over the numbers; returns the accepted ids."""
    import aiohttp

    accepted: list[str] = []
    todo = iter(range(count))
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def worker() -> None:
            for i in todo:
                body = {
                    "number": numbers[i % len(numbers)],
                    "to": f"55218{i:08d}",
                    "type": "text",
                    "text": f"{run}:{i}",
                    "client_message_id": f"{run}-{i}",
                }
                async with session.post(f"{api_url}/api/v1/messages/", json=body) as response:
                    if response.status == 202:
                        accepted.append((await response.json())["id"])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted


def execute(
    name: str,
    procs: Processes,
    args: argparse.Namespace,
    api_url: str,
    key: str,
    numbers: list[str],
    kills: int,
) -> Run:
    """Post, then let the workers drain, sweeping like beat and killing workers if asked."""
    from messaging.models import Message
    from messaging.tasks import sweep_outbox

    run = Run(name, asyncio.run(post_all(api_url, key, numbers, name, args.messages, 16)))
    marks = [len(run.accepted) * (k + 1) // (kills + 1) for k in range(kills)]
    deadline = time.monotonic() + args.timeout
    last_sweep = 0.0
    while time.monotonic() < deadline:
        settled = Message.objects.filter(pk__in=run.accepted).exclude(status="queued").count()
        if settled == len(run.accepted):
            break
        if marks and settled >= marks[0]:
            marks.pop(0)
            procs.kill_worker()
            run.kills += 1
        if time.monotonic() - last_sweep >= 2:
            sweep_outbox.delay()
            last_sweep = time.monotonic()
        time.sleep(0.1)
    return run


# ------------------------------------------------------------------ figures


def max_in_one_second(stamps: list[float]) -> int:
    """The most events inside any window of one second."""
    stamps, best, start = sorted(stamps), 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def report(run: Run, args: argparse.Namespace, sandbox_url: str) -> None:
    """Print one run's figures."""
    from messaging.models import Message

    rows = list(
        Message.objects.filter(pk__in=run.accepted).values(
            "status", "created_at", "sent_at", "number__instance_name", "text"
        )
    )
    sent = [r for r in rows if r["status"] != "queued" and r["sent_at"]]
    log = [
        m
        for m in requests.get(
            f"{sandbox_url}/_sandbox/messages?direction=outbound", timeout=30
        ).json()
        if str(m["text"]).startswith(run.name + ":")
    ]
    copies = Counter(m["text"] for m in log)
    per_number: dict[str, list[float]] = defaultdict(list)
    for m in log:
        per_number[m["instance"]].append(m["createdAt"])
    first = min(r["created_at"] for r in rows)
    span = (max(r["sent_at"] for r in sent) - first).total_seconds() if sent else 0.0
    waits = sorted((r["sent_at"] - r["created_at"]).total_seconds() for r in sent)
    lost = [r for r in rows if r["text"] not in copies]
    peak = max((max_in_one_second(s) for s in per_number.values()), default=0)
    print(
        f"\n{run.name}: {args.numbers} numbers x {args.rate}/min, {len(run.accepted)} accepted "
        f"of {args.messages}, {args.workers} workers x {args.concurrency}, "
        f"{run.kills} worker(s) SIGKILLed"
    )
    print(
        f"  end to end         {len(sent) / span if span else 0:.1f} messages/s "
        f"({len(sent)} sent in {span:.1f} s)"
    )
    if waits:
        print(
            f"  accept -> sent     p50 {statistics.median(waits):.2f} s, "
            f"p95 {waits[int(len(waits) * 0.95) - 1]:.2f} s, max {waits[-1]:.2f} s"
        )
    print(
        f"  per-number peak    {peak} sends in one second "
        f"(limit {args.rate / 60:g}/s with a burst of {BURST})"
    )
    print(
        f"  provider duplicates {sum(n - 1 for n in copies.values())} "
        f"({sum(1 for n in copies.values() if n > 1)} messages sent more than once)"
    )
    print(
        f"  lost               {len(lost)} (never reached the provider; "
        f"{sum(1 for r in rows if r['status'] == 'queued')} still queued, "
        f"{sum(1 for r in rows if r['status'] == 'failed')} failed)"
    )


def main() -> None:
    """Set up, run twice (the second time with kills), report, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=4)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rate", type=int, default=600, help="sends per minute per number")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=35.0, help="seconds a run may drain")
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", 12)))
    args = parser.parse_args()
    sandbox_port, api_port = webhook_ingest.free_port(), webhook_ingest.free_port()
    sandbox_url, api_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{api_port}"
    env = environment(args, sandbox_url, api_url)
    os.environ.update(env)
    prepare_database(env)
    clean_redis(env["REDIS_URL"])
    import django

    django.setup()
    procs = Processes(env, args)
    try:
        procs.sandbox(sandbox_port)
        procs.gunicorn(api_port)
        wait_until_up(f"{sandbox_url}/_sandbox/state")
        wait_until_up(f"{api_url}/healthz")
        for _ in range(args.workers):
            procs.worker()
        key, numbers = make_world(args, sandbox_url)
        for name, kills in (("steady", 0), ("killed", 2)):
            report(execute(name, procs, args, api_url, key, numbers, kills), args, sandbox_url)
    finally:
        procs.stop()
        clean_redis(env["REDIS_URL"])


def clean_redis(url: str) -> None:
    """Empty the benchmark's own Redis database (broker queue, limiter, breaker, marks)."""
    import redis

    redis.Redis.from_url(url).flushdb()


if __name__ == "__main__":
    main()
