"""Send benchmark: the API, real Celery workers and the sandbox provider on PostgreSQL and Redis.

Run `make bench-send` (BENCH_ARGS="--kills 20" for the issue's figure), or
`python bench/send_throughput.py` with DATABASE_URL and REDIS_URL pointing at local servers. It
uses its own database (`wa_bench_send`, or --database) and Redis database (12, or BENCH_REDIS_DB),
talks only to 127.0.0.1 and finishes in a few minutes. N numbers linked at a sandbox subprocess
get text messages through POST /api/v1/messages/ (gunicorn); worker subprocesses send them
through the numbers' lanes. Three runs, each printing its figures on separate lines:

- steady: M messages offered at a quarter of every number's rate (numbers below their rate):
  accept → sent p50 and p95;
- killed: M messages at once (every number over its rate) while a worker is SIGKILLed (its whole
  process group) --kills times, a replacement started each time: duplicates at the provider
  (the sandbox's message log), messages lost, and the most sends of one number in any 1 s and any
  60 s window against its limit (rate + burst);
- burst: 40 messages to one chat, the worker SIGKILLed twice: the drain time.

This process plays Celery beat: it runs the outbox sweep every two seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import webhook_ingest  # noqa: E402

SANDBOX_KEY = "bench-sandbox-key"
BURST = 3  # messaging.ratelimit.DEFAULT_BURST
BURST_MESSAGES = 40


def environment(args: argparse.Namespace, sandbox_url: str, api_url: str) -> dict[str, str]:
    """The webhook benchmark's settings (local only) on our own database, plus short leases."""
    env = webhook_ingest.environment(args)
    env["DATABASE_URL"] = urlsplit(env["DATABASE_URL"])._replace(path=f"/{args.database}").geturl()
    return {
        **env,
        "CACHE_KEY_PREFIX": "wa-bench-send",
        "PUBLIC_BASE_URL": api_url,
        "EVOLUTION_API_URL": sandbox_url,
        "EVOLUTION_API_KEY": SANDBOX_KEY,
        "API_THROTTLE_RATE": "1000000/min",
        "PROVIDER_CONNECT_TIMEOUT": "2",
        "PROVIDER_READ_TIMEOUT": "3",
    }


def prepare_database(env: dict[str, str], name: str) -> None:
    """Create the bench database once; migrate (quick when already done)."""
    import psycopg

    admin = urlsplit(env["DATABASE_URL"])._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
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
        # Killed and stopped workers log their lost jobs: kept apart from the figures.
        self.worker_log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "wb", prefix="bench-send-workers-", suffix=".log", delete=False
        )

    def spawn(
        self, command: list[str], quiet: bool = False, log: IO[bytes] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a child in a new session, so a kill reaches its pool processes too."""
        # Our own commands (sys.executable and fixed arguments), never outside input.
        return subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if quiet else log,
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
        app = "whatsapp_saas"
        self.workers.append(
            self.spawn(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    app,
                    "worker",
                    "-P",
                    "prefork",
                    "-c",
                    str(self.args.concurrency),
                    "-n",
                    f"bench{self.started}@%h",
                    "-l",
                    os.environ.get("BENCH_WORKER_LOG_LEVEL", "ERROR"),
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                log=self.worker_log,
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
    api_url: str, key: str, bodies: list[dict[str, object]], per_second: float | None
) -> list[str]:
    """POST the bodies (at `per_second`, or all at once 16 at a time); the accepted ids in order."""
    import aiohttp

    accepted: dict[int, str] = {}
    gate = asyncio.Semaphore(16)
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def post(i: int, body: dict[str, object]) -> None:
            if per_second:
                await asyncio.sleep(max(started + i / per_second - time.monotonic(), 0))
            async with gate, session.post(f"{api_url}/api/v1/messages/", json=body) as response:
                if response.status == 202:
                    accepted[i] = (await response.json())["id"]

        await asyncio.gather(*(post(i, body) for i, body in enumerate(bodies)))
    return [accepted[i] for i in sorted(accepted)]


def bodies_for(run: str, numbers: list[str], count: int, chat: str = "") -> list[dict[str, object]]:
    """`count` texts round robin over the numbers, each to its own chat unless `chat` is given."""
    return [
        {
            "number": numbers[i % len(numbers)],
            "to": chat or f"55218{i:08d}",
            "type": "text",
            "text": f"{run}:{i}",
            "client_message_id": f"{run}-{i}",
        }
        for i in range(count)
    ]


def drain(run: Run, procs: Processes, args: argparse.Namespace, marks: list[int]) -> None:
    """Wait until every accepted message has settled, sweeping like beat and killing at `marks`.

    A kill happens once the provider has received the next mark's number of the run's messages.
    """
    from messaging import outbox
    from messaging.models import Message

    deadline, last_sweep = time.monotonic() + args.timeout, 0.0
    while time.monotonic() < deadline:
        settled = Message.objects.filter(pk__in=run.accepted).exclude(status="queued").count()
        if settled == len(run.accepted):
            return
        if marks and at_provider(args.sandbox_url, run.name) >= marks[0]:
            marks.pop(0)
            procs.kill_worker()
            run.kills += 1
        if time.monotonic() - last_sweep >= 2:
            outbox.sweep()
            last_sweep = time.monotonic()
        time.sleep(0.05)


def at_provider(sandbox_url: str, run: str) -> int:
    """How many of the run's messages the provider has received."""
    return len(provider_log(sandbox_url, run))


def provider_log(sandbox_url: str, run: str) -> list[dict[str, object]]:
    """The sandbox's outbound messages of one run."""
    log = requests.get(f"{sandbox_url}/_sandbox/messages?direction=outbound", timeout=30).json()
    return [m for m in log if str(m["text"]).startswith(run + ":")]


def provider_reference(args: argparse.Namespace, number_id: str) -> float:
    """p50 of 30 sendText calls from this process straight to the sandbox (this machine, now)."""
    from instances.models import Number

    instance = Number.objects.get(pk=number_id).instance_name
    url = f"{args.sandbox_url}/message/sendText/{instance}"
    took = []
    with requests.Session() as http:
        http.headers["apikey"] = SANDBOX_KEY
        for i in range(30):
            started = time.monotonic()
            http.post(url, json={"number": "5521900000000", "text": f"ref:{i}"}, timeout=10)
            took.append(time.monotonic() - started)
    return statistics.median(took)


def kill_marks(count: int, kills: int) -> list[int]:
    """Spread `kills` over a run of `count` messages (by messages at the provider)."""
    return [count * (k + 1) // (kills + 1) for k in range(kills)]


# ------------------------------------------------------------------ figures


def most_in_window(stamps: list[float], seconds: float) -> int:
    """The most events inside any window of `seconds`."""
    stamps, best, start = sorted(stamps), 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the sorted values lie (nearest rank)."""
    return values[max(int(len(values) * share + 0.999999) - 1, 0)]


def report(run: Run, args: argparse.Namespace, latency: str) -> None:
    """Print one run's figures, one per line."""
    from messaging.models import Message

    rows = list(
        Message.objects.filter(pk__in=run.accepted).values(
            "status", "created_at", "sent_at", "text"
        )
    )
    log = provider_log(args.sandbox_url, run.name)
    copies = Counter(str(m["text"]) for m in log)
    per_number: dict[str, list[float]] = defaultdict(list)
    for m in log:
        per_number[str(m["instance"])].append(float(str(m["createdAt"])))
    sent = [(r["created_at"], r["sent_at"]) for r in rows if r["sent_at"] is not None]
    waits = sorted((done - accepted).total_seconds() for accepted, done in sent)
    first = min(r["created_at"] for r in rows)
    span = (max(done for _, done in sent) - first).total_seconds() if sent else 0.0
    lost = [r for r in rows if r["text"] not in copies]
    per_second = args.rate / 60
    print(
        f"\n{run.name}: {args.numbers} numbers x {args.rate}/min, {len(run.accepted)} accepted, "
        f"{args.workers} workers x {args.concurrency}, {run.kills} worker(s) SIGKILLed"
    )
    rate = len(sent) / span if span else 0
    print(f"  end to end: {rate:.1f} messages/s ({len(sent)} in {span:.1f} s)")
    if waits:
        print(
            f"  accept -> sent {latency}: p50 {statistics.median(waits):.3f} s, "
            f"p95 {percentile(waits, 0.95):.3f} s, max {waits[-1]:.3f} s"
        )
    one = max((most_in_window(s, 1) for s in per_number.values()), default=0)
    sixty = max((most_in_window(s, 60) for s in per_number.values()), default=0)
    print(f"  most sends of one number in any 1 s: {one} (limit {per_second:g} + burst {BURST})")
    print(f"  most sends of one number in any 60 s: {sixty} (limit {args.rate} + burst {BURST})")
    print(f"  duplicates at provider: {sum(n - 1 for n in copies.values())}")
    print(
        f"  lost: {len(lost)} ({sum(1 for r in rows if r['status'] == 'queued')} still queued, "
        f"{sum(1 for r in rows if r['status'] == 'failed')} failed)"
    )


def burst(procs: Processes, args: argparse.Namespace, key: str, numbers: list[str]) -> None:
    """40 messages to one chat, two worker kills: print how long they took to drain."""
    from messaging.models import Message

    bodies = bodies_for("burst", numbers[:1], BURST_MESSAGES, chat="5521977770000")
    run = Run("burst", asyncio.run(post_all(args.api_url, key, bodies, None)))
    drain(run, procs, args, kill_marks(BURST_MESSAGES, 2))
    rows = Message.objects.filter(pk__in=run.accepted).order_by("created_at", "pk")
    queued = [r.text for r in rows]
    first = min(r.created_at for r in rows)
    last = max((r.sent_at for r in rows if r.sent_at), default=first)
    log = [
        str(m["text"])
        for m in sorted(
            provider_log(args.sandbox_url, "burst"), key=lambda m: float(str(m["createdAt"]))
        )
    ]
    target = BURST_MESSAGES / (args.rate / 60) + 20
    print(f"\nburst: {BURST_MESSAGES} messages to one chat, {run.kills} worker(s) SIGKILLed")
    print(
        f"  drain of a 40-message burst to one chat after two worker kills: "
        f"{(last - first).total_seconds():.1f} s (target 40/rate + 20 s = {target:.0f} s)"
    )
    print(
        f"  sent {rows.filter(status='sent').count()}/{BURST_MESSAGES}, "
        f"duplicates at provider: {len(log) - len(set(log))}, "
        f"in queue order: {log == queued}"
    )


def main() -> None:
    """Set up, run steady, killed and burst, report, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=4)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rate", type=int, default=600, help="sends per minute per number")
    parser.add_argument("--kills", type=int, default=2, help="worker SIGKILLs in the killed run")
    parser.add_argument(
        "--offered", type=float, default=0.25, help="steady load as a share of each number's rate"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a run may drain")
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "wa_bench_send"))
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", 12)))
    args = parser.parse_args()
    sandbox_port, api_port = webhook_ingest.free_port(), webhook_ingest.free_port()
    args.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    args.api_url = f"http://127.0.0.1:{api_port}"
    env = environment(args, args.sandbox_url, args.api_url)
    os.environ.update(env)
    prepare_database(env, args.database)
    clean_redis(env["REDIS_URL"])
    import django

    django.setup()
    procs = Processes(env, args)
    try:
        procs.sandbox(sandbox_port)
        procs.gunicorn(api_port)
        wait_until_up(f"{args.sandbox_url}/_sandbox/state")
        wait_until_up(f"{args.api_url}/healthz")
        for _ in range(args.workers):
            procs.worker()
        key, numbers = make_world(args, args.sandbox_url)
        reference = provider_reference(args, numbers[0])
        below = len(numbers) * args.rate / 60 * args.offered
        steady = Run(
            "steady",
            asyncio.run(
                post_all(args.api_url, key, bodies_for("steady", numbers, args.messages), below)
            ),
        )
        drain(steady, procs, args, [])
        report(steady, args, f"below the rate (offered at {args.offered:.0%} of it)")
        print(
            f"  reference, same run: a sendText straight to the sandbox takes p50 {reference:.3f} s"
        )
        killed = Run(
            "killed",
            asyncio.run(
                post_all(args.api_url, key, bodies_for("killed", numbers, args.messages), None)
            ),
        )
        drain(killed, procs, args, kill_marks(args.messages, args.kills))
        report(killed, args, "all at once (over the rate, with kills)")
        burst(procs, args, key, numbers)
    finally:
        procs.stop()
        clean_redis(env["REDIS_URL"])
        print(f"\nworker logs: {procs.worker_log.name}")


def clean_redis(url: str) -> None:
    """Empty the benchmark's own Redis database (broker queue, limiter, breaker, marks)."""
    import redis

    redis.Redis.from_url(url).flushdb()


if __name__ == "__main__":
    main()
