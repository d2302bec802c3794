"""Live-page change feed benchmark: 200 simulated viewers of open conversations against gunicorn.

Run `make bench-feed` (or `python bench/live_feed.py` with DATABASE_URL and REDIS_URL pointing at
local servers). It uses its own database (`wa_bench_feed`) and Redis database (12, or
BENCH_REDIS_DB), talks only to 127.0.0.1 and finishes in about half a minute. It prints:

- the SQL one refresh runs (when nothing changed and when a message arrived), counted in-process;
- the answer's size when nothing changed (a 304: body and headers);
- with 200 viewers each refreshing once a second, as the pages do: requests/s served, latency,
  the share answered 304, while a writer adds a message every 0.2 s;
- the same viewers refreshing as fast as they can: the most refreshes/s this web tier serves,
  beside a bare 200 view in the same gunicorn (the ratio says what the feed costs over nothing),
  and so how many once-a-second viewers it holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import webhook_ingest  # noqa: E402
from bench.webhook_ingest import free_port, start_gunicorn  # noqa: E402

BENCH_DB = "wa_bench_feed"
# Spreads load over time and conversations; nothing secret depends on it.
RNG = random.Random(7)  # noqa: S311
SLUG = "bench-feed"


def environment(args: argparse.Namespace) -> dict[str, str]:
    """The webhook bench's settings, on our own database, cache prefix and plain-HTTP cookies."""
    env = webhook_ingest.environment(args)
    env.update(CACHE_KEY_PREFIX="wa-bench-feed", SESSION_COOKIE_SECURE="0")
    return env


# ------------------------------------------------------------------ the world


def make_world(viewers: int, history: int) -> tuple[Any, list[str], list[str]]:
    """A workspace with one number, a conversation per viewer, and a signed-in session each."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )

    from instances.models import Number
    from messaging.models import Contact, Conversation, Message
    from tenants.models import Membership, Tenant

    # A fresh world each run: numbers take their conversations and messages with them.
    Number.objects.filter(tenant__slug=SLUG).delete()
    Contact.objects.filter(tenant__slug=SLUG).delete()
    tenant, _ = Tenant.objects.get_or_create(slug=SLUG, defaults={"name": "Bench feed"})
    number = Number.objects.create(
        tenant=tenant,
        name="Bench",
        provider="evolution",
        instance_name=f"{SLUG}-wa",
        provider_instance_id=f"{SLUG}-wa",
        status="connected",
        phone_number="5511999999999",
    )
    user, _ = get_user_model().objects.get_or_create(username="feed-viewer@bench.test")
    Membership.objects.get_or_create(user=user, tenant=tenant)
    conversations, cookies = [], []
    for n in range(viewers):
        contact, _ = Contact.objects.get_or_create(tenant=tenant, phone=f"55119{n:08d}")
        convo = Conversation.objects.create(tenant=tenant, number=number, contact=contact)
        Message.objects.bulk_create(
            Message(
                tenant=tenant,
                number=number,
                conversation=convo,
                direction="inbound",
                status="received",
                text=f"message {i}",
            )
            for i in range(history)
        )
        session = import_module(settings.SESSION_ENGINE).SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        conversations.append(str(convo.pk))
        cookies.append(session.session_key)
    return number, conversations, cookies


def new_message(number: Any, conversation_id: str) -> None:
    """What an inbound webhook adds: one message, its conversation touched."""
    from django.utils import timezone

    from messaging.models import Conversation, Message

    Message.objects.create(
        tenant_id=number.tenant_id,
        number=number,
        conversation_id=conversation_id,
        direction="inbound",
        status="received",
        text="a new message",
    )
    Conversation.objects.filter(pk=conversation_id).update(updated_at=timezone.now())


# ------------------------------------------------------------------ one refresh, in process


def one_refresh(number: Any, conversation_id: str, cookie: str) -> dict[str, Any]:
    """Queries and bytes of a refresh when nothing changed and when a message arrived."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    url = f"/conversations/{conversation_id}/feed/"
    since = timezone.now().isoformat()
    first = client.get(url, {"since": since})
    etag, cursor = first["ETag"], first.json()["cursor"]
    with CaptureQueriesContext(connection) as unchanged:
        quiet = client.get(url, {"since": cursor}, HTTP_IF_NONE_MATCH=etag)
    new_message(number, conversation_id)
    with CaptureQueriesContext(connection) as changed:
        busy = client.get(url, {"since": cursor}, HTTP_IF_NONE_MATCH=etag)
    feed_sql = changed.captured_queries[-1]["sql"]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + feed_sql)
        plan = [row[0] for row in cur.fetchall()]
    return {
        "unchanged": [q["sql"] for q in unchanged.captured_queries],
        "changed": [q["sql"] for q in changed.captured_queries],
        "quiet_status": quiet.status_code,
        "quiet_body": len(quiet.content),
        "busy_status": busy.status_code,
        "busy_body": len(busy.content),
        "plan": plan,
    }


# ------------------------------------------------------------------ load


@dataclass
class Phase(webhook_ingest.Phase):
    """What one phase saw, with the header size of a few 304 answers."""

    header_bytes: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Answers per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        """One row of the report."""
        ok = sorted(self.latencies)
        p50 = statistics.median(ok) * 1000 if ok else 0.0
        p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))] * 1000 if ok else 0.0
        total = sum(self.statuses.values()) or 1
        not_modified = self.statuses.get(304, 0) / total
        errors = sum(n for status, n in self.statuses.items() if status not in (200, 304))
        return (
            f"{self.name:<34} {self.rate:>9.1f} {p50:>8.1f} {p99:>8.1f} "
            f"{not_modified:>6.0%} {errors:>7}"
        )


async def viewers(
    base: str,
    paths: list[str],
    cookies: list[str],
    seconds: float,
    interval: float,
    phase: Phase | None,
    conditional: bool = True,
) -> None:
    """One keep-alive client per viewer; each refreshes every `interval` s (0: back to back)."""
    import aiohttp

    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=len(paths))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def viewer(path: str, cookie: str) -> None:
            cursor, etag = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), ""
            await asyncio.sleep(RNG.random() * max(interval, 0.01))
            while time.monotonic() < stop:
                started = time.perf_counter()
                headers = {"Cookie": f"sessionid={cookie}", "Accept": "application/json"}
                if conditional and etag:
                    headers["If-None-Match"] = etag
                async with session.get(
                    f"{base}{path}", params={"since": cursor}, headers=headers
                ) as r:
                    body = await r.read()
                    if r.status == 200 and conditional:
                        etag = r.headers.get("ETag", "")
                        cursor = json.loads(body).get("cursor", cursor)
                    took = time.perf_counter() - started
                    if phase is not None:
                        phase.statuses[r.status] = phase.statuses.get(r.status, 0) + 1
                        if r.status in (200, 304):
                            phase.latencies.append(took)
                        if r.status == 304 and len(phase.header_bytes) < 5:
                            phase.header_bytes.append(
                                sum(len(k) + len(v) + 4 for k, v in r.raw_headers) + 17
                            )
                if interval:
                    await asyncio.sleep(max(0.0, interval - took))

        began = time.monotonic()
        await asyncio.gather(*(viewer(p, c) for p, c in zip(paths, cookies, strict=True)))
        if phase is not None:
            phase.seconds = time.monotonic() - began


async def writer(number: Any, conversations: list[str], seconds: float, every: float) -> int:
    """Add a message to a random conversation every `every` s (in a thread: the ORM is sync)."""
    stop, written = time.monotonic() + seconds, 0
    while time.monotonic() < stop:
        await asyncio.to_thread(new_message, number, RNG.choice(conversations))
        written += 1
        await asyncio.sleep(every)
    return written


async def steady(
    base: str,
    paths: list[str],
    cookies: list[str],
    number: Any,
    convos: list[str],
    args: argparse.Namespace,
) -> tuple[Phase, int]:
    """200 viewers at one refresh a second, with messages arriving."""
    phase = Phase(f"{len(paths)} viewers, 1 refresh/s each")
    _, written = await asyncio.gather(
        viewers(base, paths, cookies, args.seconds, 1.0, phase),
        writer(number, convos, args.seconds, 0.2),
    )
    return phase, written


def main() -> None:
    """Set up, measure one refresh, serve, load, report, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--history", type=int, default=30, help="messages per conversation")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", 12)))
    parser.add_argument("--database", default=os.environ.get("BENCH_DB", BENCH_DB))
    args = parser.parse_args()
    env = environment(args)
    os.environ.update(env)
    webhook_ingest.prepare_database(env, args.database)
    import django

    django.setup()
    number, conversations, cookies = make_world(args.viewers, args.history)
    refresh = one_refresh(number, conversations[0], cookies[0])
    port = free_port()
    server = start_gunicorn(env, args, port)
    base = f"http://127.0.0.1:{port}"
    paths = [f"/conversations/{c}/feed/" for c in conversations]
    try:
        asyncio.run(viewers(base, paths, cookies, 1.0, 0, None))  # warm-up
        steady_phase, written = asyncio.run(
            steady(base, paths, cookies, number, conversations, args)
        )
        flat_out = Phase(f"{args.viewers} viewers, back to back")
        asyncio.run(viewers(base, paths, cookies, args.seconds, 0, flat_out))
        bare = Phase("bare 200 view, back to back")
        asyncio.run(
            viewers(base, ["/bench/bare/"] * args.viewers, cookies, args.seconds, 0, bare, False)
        )
    finally:
        server.terminate()
        server.wait(10)
    report(args, refresh, steady_phase, written, flat_out, bare)
    clean_redis(env["REDIS_URL"])


def report(
    args: argparse.Namespace,
    refresh: dict[str, Any],
    steady_phase: Phase,
    written: int,
    flat_out: Phase,
    bare: Phase,
) -> None:
    """Print the figures."""
    print(
        f"live feed benchmark: gunicorn {args.workers} workers x {args.threads} threads, "
        f"{args.viewers} viewers, {args.seconds:.0f} s per phase, load {os.getloadavg()[0]:.2f}"
    )
    print(f"queries per refresh, nothing changed: {len(refresh['unchanged'])}")
    for sql in refresh["unchanged"]:
        print(f"    {sql[:110]}")
    print(f"queries per refresh, a message arrived: {len(refresh['changed'])}")
    scans = [line.strip().lstrip("-> ") for line in refresh["plan"] if "Scan" in line]
    print("feed query plan (its scans):", " | ".join(scans))
    headers = steady_phase.header_bytes or flat_out.header_bytes
    header_size = statistics.median(headers) if headers else 0
    print(
        f"answer when nothing changed: HTTP {refresh['quiet_status']}, body "
        f"{refresh['quiet_body']} bytes, headers ~{header_size:.0f} bytes "
        f"(with a new message: HTTP {refresh['busy_status']}, body {refresh['busy_body']} bytes)"
    )
    print(f"{'phase':<34} {'answers/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'304':>6} {'errors':>7}")
    print(steady_phase.line() + f"   ({written} messages written)")
    print(flat_out.line())
    print(bare.line())
    print(
        f"ratio feed/bare throughput: {flat_out.rate / bare.rate:.2f}x; "
        f"once-a-second viewers this tier holds: ~{flat_out.rate:.0f}"
    )


def clean_redis(url: str) -> None:
    """Drop our cache keys and sessions."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter("wa-bench-feed:*"))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
