"""Webhook processing benchmark: stored provider events applied per worker, and inbound latency.

Run `make bench-processing` (or `python bench/webhook_processing.py` with DATABASE_URL and
REDIS_URL pointing at local servers). It uses its own database (`wa_bench_processing`, or
--database) and Redis database (12, or --redis-db), talks only to 127.0.0.1, and stops by itself.

1. Throughput, in this process (one process is one worker's share: a Celery `events` worker runs
   the same functions): N stored Evolution `messages.upsert` events (texts from a pool of chats,
   new contacts included) and N `messages.update` receipts for our outbound messages, processed
   by the per-event path (`processing.process` per event, as `process_pending` did) and by the
   batched path (`batch.process_batch`), side by side in one run, with queries per event.
2. The same batched path in one real Celery worker (`-Q events -c 1`), woken once: events/s.
3. Inbound-visible latency: gunicorn and that worker; webhooks POSTed open loop at a fixed rate
   (default 300/s) to the real endpoint while GET /api/v1/messages/ is polled; from each ack to
   the poll that first shows its message: p50/p95/max, and how many never showed up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhook_ingest import (  # noqa: E402 - after the path above
    connected_number,
    free_port,
    set_up,
    start_gunicorn,
    uptime,
)

BENCH_DB = "wa_bench_processing"
INSTANCE = "bench-proc1"
OWN_PHONE = "5511999999999"
LATENCY_TAG = "3EB0LT"


# ------------------------------------------------------------------ the world and its events


def make_world() -> tuple[Any, str]:
    """A fresh tenant with one connected Evolution number and a read-only API key."""
    from instances.models import Number
    from messaging.models import Contact
    from tenants.models import Tenant
    from tenants.services import create_tenant, issue_api_key
    from webhooks.models import WebhookEvent

    old = Tenant.objects.filter(slug__startswith="bench-processing")
    WebhookEvent.objects.filter(tenant__in=old).delete()
    Contact.objects.filter(tenant__in=old).delete()
    Number.objects.filter(tenant__in=old).delete()
    old.delete()
    tenant = create_tenant("bench-processing")
    _, key = issue_api_key(tenant, "bench", ["messages:read"])
    number = connected_number(tenant, INSTANCE)
    return number, key


def envelope(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """An Evolution v2 webhook body around `data`."""
    return {
        "event": event,
        "instance": INSTANCE,
        "data": data,
        "destination": "http://127.0.0.1/webhooks/evolution/<token>/",
        "date_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "sender": f"{OWN_PHONE}@s.whatsapp.net",
        "server_url": "http://127.0.0.1:8081",
        "apikey": None,
    }


def upsert(message_id: str, chat: str, n: int) -> dict[str, Any]:
    """A `messages.upsert` of a text from a chat (webhooks/tests/fixtures shapes)."""
    return envelope(
        "messages.upsert",
        {
            "key": {
                "remoteJid": f"{chat}@s.whatsapp.net",
                "fromMe": False,
                "id": message_id,
                "addressingMode": "pn",
            },
            "pushName": f"Customer {chat[-4:]}",
            "status": "DELIVERY_ACK",
            "message": {"conversation": f"Hello, this is message {n}"},
            "messageType": "conversation",
            "messageTimestamp": int(time.time()),
            "instanceId": "bench-instance-id",
            "source": "android",
        },
    )


def receipt(message_id: str, chat: str, status: str) -> dict[str, Any]:
    """A `messages.update` receipt for one of our messages."""
    return envelope(
        "messages.update",
        {
            "keyId": message_id,
            "remoteJid": f"{chat}@s.whatsapp.net",
            "fromMe": True,
            "participant": None,
            "status": status,
            "pollUpdates": None,
            "instanceId": "bench-instance-id",
            "messageId": f"cm{message_id.lower()}",
        },
    )


def store(number: Any, bodies: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Insert stored, unprocessed events as the ack leaves them: (name, dedupe key, body)."""
    from django.utils import timezone

    from webhooks.models import WebhookEvent

    now = timezone.now()
    WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(
                provider="evolution",
                number=number,
                tenant_id=number.tenant_id,
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                event_name=name,
                dedupe_key=f"{INSTANCE}:{key}",
                received_at=now,
            )
            for name, key, body in bodies
        ],
        batch_size=1000,
    )


def seed_upserts(number: Any, tag: str, count: int, chats: int) -> None:
    """`count` inbound texts spread over `chats` chats this run has not seen."""
    base = 5511_3000_0000 + (sum(map(ord, tag)) % 97) * 100_000
    store(
        number,
        [
            (
                "messages.upsert",
                f"up:{tag}:{i}",
                upsert(f"3EB0{tag}{i:012X}", str(base + i % chats), i),
            )
            for i in range(count)
        ],
    )


def seed_receipts(number: Any, tag: str, count: int) -> None:
    """`count` outbound messages of ours, sent, and a delivery receipt stored for each."""
    from messaging.models import Contact, Conversation, Message

    contact = Contact.objects.create(
        tenant_id=number.tenant_id, phone="55117" + "".join(f"{ord(c):03d}" for c in tag)
    )
    thread = Conversation.objects.create(tenant_id=number.tenant_id, number=number, contact=contact)
    Message.objects.bulk_create(
        [
            Message(
                tenant_id=number.tenant_id,
                number=number,
                conversation=thread,
                direction="outbound",
                status="sent",
                recipient=contact.phone,
                sender=OWN_PHONE,
                text=f"Our message {i}",
                provider_message_id=f"BAE5{tag}{i:012X}",
            )
            for i in range(count)
        ],
        batch_size=1000,
    )
    store(
        number,
        [
            (
                "messages.update",
                f"rc:{tag}:{i}",
                receipt(f"BAE5{tag}{i:012X}", contact.phone, "DELIVERY_ACK"),
            )
            for i in range(count)
        ],
    )


# ------------------------------------------------------------------ 1. in-process throughput


def pending_ids() -> list[int]:
    """Stored events not processed yet, oldest first."""
    from webhooks.models import WebhookEvent

    rows = WebhookEvent.objects.filter(status="received").order_by("received_at", "id")
    return list(rows.values_list("pk", flat=True))


def per_event() -> None:
    """The per-event path: claim, normalize, dispatch and finish each event on its own."""
    from webhooks import processing

    for event_id in pending_ids():
        processing.process(event_id)


def batched() -> None:
    """The batched path, until nothing is left."""
    from webhooks import batch

    while batch.process_batch():
        pass


def timed(path: Any, count: int) -> tuple[float, float]:
    """(events/s, queries per event) of one path over `count` stored events."""
    from django.db import connection

    queries = 0

    def counted(execute: Any, *args: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(*args)

    started = time.perf_counter()
    with connection.execute_wrapper(counted):
        path()
    seconds = time.perf_counter() - started
    check_all_processed()
    return count / seconds, queries / count


def check_all_processed() -> None:
    """Stop if a run left events unprocessed (the figure would mean nothing)."""
    from webhooks.models import WebhookEvent

    left = WebhookEvent.objects.exclude(status="processed").values_list("status", "error")[:3]
    if left:
        raise SystemExit(f"events were not processed: {list(left)}")


def throughput(number: Any, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """Old and new path for both kinds; each on events of its own."""
    figures = {}
    for kind in ("messages.upsert", "messages.update"):
        for name, path in (("per-event", per_event), ("batched", batched)):
            tag = f"{'U' if kind == 'messages.upsert' else 'R'}{name[0].upper()}"
            if kind == "messages.upsert":
                seed_upserts(number, tag, args.events, args.chats)
            else:
                seed_receipts(number, tag, args.events)
            figures[f"{kind} {name}"] = timed(path, args.events)
    return figures


# ------------------------------------------------------------------ 2. and 3. real processes


class Processes:
    """One Celery `events` worker (in its own process group) and gunicorn."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}
        self.children: list[subprocess.Popen[bytes]] = []

    def spawn(self, command: list[str]) -> None:
        """Start a child in a new session (our own fixed argv)."""
        self.children.append(
            subprocess.Popen(  # noqa: S603
                command,
                cwd=ROOT,
                env=self.env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
            )
        )

    def worker(self) -> None:
        """One Celery worker on the events queue, one process, as in Procfile.dev."""
        self.spawn(
            [sys.executable, "-m", "celery", "-A", "whatsapp_saas", "worker", "-Q", "events"]
            + ["-c", "1", "-P", "prefork", "-n", "bench-events@%h", "-l", "ERROR"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        )

    def stop(self) -> None:
        """Terminate everything this benchmark started."""
        for child in self.children:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for child in self.children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)


def wait_idle(seconds: float = 120) -> float:
    """Wait until no stored event is left to process; the time it took."""
    from webhooks.models import WebhookEvent

    started = time.perf_counter()
    while WebhookEvent.objects.filter(status__in=["received", "processing"]).exists():
        if time.perf_counter() - started > seconds:
            raise SystemExit("the worker did not process the events; is it running?")
        time.sleep(0.02)
    return time.perf_counter() - started


def worker_rate(number: Any, args: argparse.Namespace) -> dict[str, float]:
    """events/s of the real worker on the batched path, woken once per kind."""
    from webhooks import wake

    figures = {}
    # The worker's first task imports everything and warms its connection: not in the figure.
    seed_upserts(number, "UX", 50, 50)
    wake.publish()
    time.sleep(0.5)
    wait_idle()
    for kind, tag in (("messages.upsert", "UW"), ("messages.update", "RW")):
        if kind == "messages.upsert":
            seed_upserts(number, tag, args.events, args.chats)
        else:
            seed_receipts(number, tag, args.events)
        wake.publish()
        figures[kind] = args.events / wait_idle()
        check_all_processed()
    return figures


async def visible_latency(
    base: str, number: Any, key: str, args: argparse.Namespace
) -> tuple[list[float], int, int]:
    """POST upserts open loop at `rate`; poll the API; (ack → visible seconds, unseen, errors)."""
    import aiohttp

    from providers.evolution import WEBHOOK_SECRET_HEADER

    webhook = f"{base}/webhooks/evolution/{number.webhook_token}/"
    secret_header = {
        "Content-Type": "application/json",
        WEBHOOK_SECRET_HEADER: number.webhook_secret,
    }
    acked: dict[str, float] = {}
    errors = 0
    context = multiprocessing.get_context("spawn")
    ready, done, out = context.Event(), context.Event(), context.Queue()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=256), timeout=aiohttp.ClientTimeout(total=10)
    ) as session:

        async def send(i: int) -> None:
            nonlocal errors
            message_id = f"{LATENCY_TAG}{i:012X}"
            body = json.dumps(upsert(message_id, str(5511_2000_0000 + i % args.chats), i))
            try:
                async with session.post(webhook, data=body, headers=secret_header) as answer:
                    await answer.read()
                    ok = answer.status == 200
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            if ok:
                acked[message_id] = time.perf_counter()
            else:
                errors += 1

        # The API is polled from a process of its own: the sending loop never delays a poll.
        poller = context.Process(
            target=poll, args=(base, str(number.pk), key, args.poll, ready, done, out), daemon=True
        )
        poller.start()
        await asyncio.to_thread(ready.wait, 60)
        total, start = int(args.rate * args.latency_seconds), time.perf_counter() + 0.2
        sends = []
        for i in range(total):
            delay = start + i / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sends.append(asyncio.create_task(send(i)))
        await asyncio.gather(*sends)
        done.set()
        seen, polls = await asyncio.to_thread(out.get)
        poller.join()
    lags = [max(0.0, seen[m] - at) for m, at in acked.items() if m in seen]
    print(f"API pages read: {len(polls)}, p50 {percentile(polls, 0.5):.0f} ms each")
    return lags, len(acked) - len(lags), errors


def poll(
    base: str, number_id: str, key: str, pause: float, ready: Any, done: Any, out: Any
) -> None:
    """Read the newest inbound messages (a process of its own); put {id: first seen} at the end.

    Stops once sending is over and nothing new showed up for 3 s (at most 15 s after).
    """
    import requests

    first = f"{base}/api/v1/messages/?number={number_id}&direction=inbound&limit=100"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    seen: dict[str, float] = {}
    pages: list[float] = []
    finished = last_new = float("inf")
    while True:
        url: str | None = first
        # Newest first: read on while a whole page is new (more came than one holds).
        while url:
            asked = time.perf_counter()
            page = session.get(url, timeout=10).json()
            now = time.perf_counter()
            pages.append(now - asked)
            ready.set()
            results = page.get("results", [])
            # Messages of the earlier phases count as seen: no walk through their pages.
            new = [
                m["provider_message_id"]
                for m in results
                if m["provider_message_id"].startswith(LATENCY_TAG)
                and m["provider_message_id"] not in seen
            ]
            seen.update(dict.fromkeys(new, now))
            last_new = now if new else last_new
            url = page.get("next") if results and len(new) == len(results) else None
        if done.is_set():
            finished = min(finished, now)
            if now - max(finished, last_new) > 3 or now - finished > 15:
                break
        time.sleep(pause)
    out.put((seen, pages))


def processing_lag(since: Any) -> list[float]:
    """Seconds from stored to processed of events stored since then (the database's view)."""
    from webhooks.models import WebhookEvent

    rows = WebhookEvent.objects.filter(received_at__gte=since, processed_at__isnull=False)
    pairs = rows.values_list("received_at", "processed_at")
    return [(done - at).total_seconds() for at, done in pairs if done is not None]


def percentile(values: list[float], share: float) -> float:
    """The value at `share` (0..1), in ms."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else 0.0


# ------------------------------------------------------------------ main


def main() -> None:
    """Set up, measure, report, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="stored events per figure")
    parser.add_argument("--chats", type=int, default=300, help="distinct chats they come from")
    parser.add_argument("--rate", type=float, default=300.0, help="webhooks/s for the latency")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between API polls")
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput phases")
    args, env = set_up(parser, BENCH_DB, 12)
    import redis
    from django.utils import timezone

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    number, key = make_world()
    print(f"load before: {uptime()}")
    figures = {} if args.latency_only else throughput(number, args)
    procs, port, server = Processes(env), free_port(), None
    try:
        procs.worker()
        # gunicorn as bench-webhooks runs it: gthread workers, the project's URLs.
        args.workers, args.threads = 2, 8
        server = start_gunicorn(env, args, port)
        rates = {} if args.latency_only else worker_rate(number, args)
        since = timezone.now()
        lags, unseen, errors = asyncio.run(
            visible_latency(f"http://127.0.0.1:{port}", number, key, args)
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(15)
        procs.stop()
    print(f"load after: {uptime()}")
    report(figures, rates, (lags, unseen, errors), processing_lag(since), args)
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def report(
    figures: dict[str, tuple[float, float]],
    rates: dict[str, float],
    latency: tuple[list[float], int, int],
    stored: list[float],
    args: argparse.Namespace,
) -> None:
    """Print the figures."""
    print(
        f"\nwebhook processing: {args.events} stored events per figure, "
        f"texts from {args.chats} chats, receipts for our own messages"
    )
    if figures:
        print(f"{'in-process, one worker':<34} {'events/s':>9} {'queries/event':>14}")
        for name, (rate, queries) in figures.items():
            print(f"{name:<34} {rate:>9.0f} {queries:>14.1f}")
        for kind in ("messages.upsert", "messages.update"):
            old, new = figures[f"{kind} per-event"][0], figures[f"{kind} batched"][0]
            print(f"ratio {kind}: batched {new / old:.1f}x per-event")
    if rates:
        print("one Celery worker (-Q events -c 1), batched, woken once:")
        for kind, rate in rates.items():
            print(f"  {kind:<32} {rate:>9.0f} events/s")
    lags, unseen, errors = latency
    print(
        f"inbound visible (ack -> GET /api/v1/messages/) at {args.rate:.0f} webhooks/s for "
        f"{args.latency_seconds:.0f} s, one worker: p50 {percentile(lags, 0.5):.0f} ms, "
        f"p95 {percentile(lags, 0.95):.0f} ms, max {percentile(lags, 1.0):.0f} ms; "
        f"{len(lags)} seen, {unseen} never seen, {errors} not acked "
        f"(polled every {args.poll * 1000:.0f} ms)"
    )
    print(
        f"  stored -> processed (database clock): p50 {percentile(stored, 0.5):.0f} ms, "
        f"p95 {percentile(stored, 0.95):.0f} ms, max {percentile(stored, 1.0):.0f} ms"
    )


if __name__ == "__main__":
    main()
