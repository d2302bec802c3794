"""Outbound webhooks: one FIFO queue per instance, retries with the provider's back-off, faults."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import itertools
import json
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from sandbox.state import EVOLUTION

if TYPE_CHECKING:
    from sandbox.state import Sandbox

log = logging.getLogger("sandbox.webhooks")
LOG_SIZE = 5000


@dataclass
class Delivery:
    """One webhook to deliver, and what happened to it."""

    id: int
    provider: str
    instance: str
    event: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    created_at: float
    jwt_key: str | None = None
    status: str = "pending"
    attempts: int = 0
    responses: list[int | str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON view for the control API (headers included: this is a test tool)."""
        return {
            "id": self.id,
            "provider": self.provider,
            "instance": self.instance,
            "event": self.event,
            "url": self.url,
            "headers": self.headers,
            "body": self.body,
            "createdAt": self.created_at,
            "status": self.status,
            "attempts": self.attempts,
            "responses": list(self.responses),
        }


@dataclass
class RetryPolicy:
    """When a delivery counts as done, and how long to wait before trying again."""

    max_attempts: int
    timeout: float
    initial: float
    max_delay: float
    exponential: bool
    jitter: float
    non_retryable: frozenset[int]
    ok_codes: range

    def delay(self, attempt: int, draw: float) -> float:
        """Return the pause after failed attempt number `attempt` (1-based); draw is in [0, 1)."""
        base = self.initial * 2 ** (attempt - 1) if self.exponential else self.initial
        base = min(base, self.max_delay)
        return max(self.initial, base + base * self.jitter * (draw * 2 - 1))


def jwt_hs256(secret: str, now: int) -> str:
    """Mint the short-lived HS256 JWT Evolution sends for a jwt_key header."""

    def part(data: dict[str, Any]) -> bytes:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing_input = (
        part({"alg": "HS256", "typ": "JWT"})
        + b"."
        + part({"app": "evolution", "action": "webhook", "iat": now, "exp": now + 600})
    )
    signature = base64.urlsafe_b64encode(
        hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    )
    return (signing_input + b"." + signature.rstrip(b"=")).decode()


class Dispatcher:
    """Delivers webhooks: Evolution ones concurrently (or in order), GreenAPI FIFO per instance."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.rng = random.Random(None if sb.config.seed is None else sb.config.seed + 2)  # noqa: S311
        self.log: deque[Delivery] = deque(maxlen=LOG_SIZE)
        self._inflight: set[int] = set()
        self._ids = itertools.count(1)
        self._queues: dict[tuple[str, str], asyncio.Queue[Delivery]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    def policy(self, provider: str) -> RetryPolicy:
        """Return the retry policy of a provider (Evolution 1.9, GreenAPI 2.5 of the reference)."""
        c = self.sb.config
        if provider == EVOLUTION:
            return RetryPolicy(
                c.webhook_max_attempts,
                c.webhook_timeout,
                c.webhook_initial_delay,
                c.webhook_max_delay,
                c.webhook_exponential,
                c.webhook_jitter,
                c.webhook_non_retryable,
                range(200, 300),
            )
        return RetryPolicy(
            c.greenapi_webhook_max_attempts,
            c.greenapi_webhook_timeout,
            c.greenapi_webhook_retry_seconds,
            c.greenapi_webhook_retry_seconds,
            False,
            0.0,
            frozenset(),
            range(200, 201),
        )

    def send(
        self,
        provider: str,
        instance: str,
        event: str,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any],
        jwt_key: str | None = None,
    ) -> None:
        """Deliver a webhook: on its own (Evolution), or after the instance's earlier ones."""
        copies = self.sb.faults.webhook_copies(event)
        for index in range(max(copies, 1)):
            delivery = Delivery(
                next(self._ids),
                provider,
                instance,
                event,
                url,
                dict(headers),
                copy.deepcopy(body) if index else body,
                self.sb.clock.now(),
                jwt_key,
            )
            self.log.append(delivery)
            if copies == 0:
                delivery.status = "dropped"
                return
            if provider == EVOLUTION and self.sb.config.evolution_webhook_order == "concurrent":
                # Evolution does not await most sendDataWebhook calls: each delivery runs and
                # retries on its own, and later events overtake a failing one (reference 1.9).
                self._start(delivery)
            else:
                self._queue(provider, instance).put_nowait(delivery)

    def _start(self, delivery: Delivery) -> None:
        """Deliver one webhook on its own task."""
        self._inflight.add(delivery.id)
        task = asyncio.get_running_loop().create_task(self._run(delivery))
        self._workers.append(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        """Drop a finished delivery task."""
        if task in self._workers:
            self._workers.remove(task)

    async def _run(self, delivery: Delivery) -> None:
        """One concurrent delivery, to its end."""
        try:
            await self._deliver(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook delivery %s crashed", delivery.id)
            delivery.status = "failed"
        finally:
            self._inflight.discard(delivery.id)

    @property
    def pending(self) -> int:
        """Return how many deliveries are queued or in flight."""
        return len(self._inflight) + sum(queue.qsize() for queue in self._queues.values())

    def _queue(self, provider: str, instance: str) -> asyncio.Queue[Delivery]:
        """Return the queue of an instance, starting its worker on first use."""
        key = (provider, instance)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._workers.append(asyncio.get_running_loop().create_task(self._work(queue)))
        return queue

    async def _work(self, queue: asyncio.Queue[Delivery]) -> None:
        """Deliver one instance's webhooks, one at a time, retrying the head until done."""
        while True:
            delivery = await queue.get()
            self._inflight.add(delivery.id)
            try:
                await self._deliver(delivery)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one delivery must not stop the queue
                log.exception("webhook delivery %s crashed", delivery.id)
                delivery.status = "failed"
            finally:
                self._inflight.discard(delivery.id)

    async def _deliver(self, delivery: Delivery) -> None:
        """Try a delivery until it succeeds, is refused for good, or runs out of attempts."""
        policy = self.policy(delivery.provider)
        while True:
            if self.sb.faults.webhook_attempt_fails(delivery.event, delivery.attempts + 1):
                outcome: int | str = 503
            else:
                outcome = await self._attempt(delivery, policy)
            delivery.attempts += 1
            delivery.responses.append(outcome)
            if isinstance(outcome, int) and outcome in policy.ok_codes:
                delivery.status = "delivered"
                return
            if (isinstance(outcome, int) and outcome in policy.non_retryable) or (
                delivery.attempts >= policy.max_attempts
            ):
                delivery.status = "failed"
                return
            delivery.status = "retrying"
            await self.sb.clock.sleep(policy.delay(delivery.attempts, self.rng.random()))

    async def _attempt(self, delivery: Delivery, policy: RetryPolicy) -> int | str:
        """POST once; return the status code or the name of the error."""
        headers = {"Content-Type": "application/json", **delivery.headers}
        if delivery.jwt_key:
            headers["Authorization"] = f"Bearer {jwt_hs256(delivery.jwt_key, int(time.time()))}"
        data = json.dumps(delivery.body).encode()
        try:
            async with self._client().post(
                delivery.url,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=policy.timeout),
            ) as response:
                await response.read()
                return response.status
        except TimeoutError:
            return "timeout"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return type(exc).__name__

    def _client(self) -> aiohttp.ClientSession:
        """Return the shared HTTP client, created inside the running loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        return self._session

    def entries(
        self, instance: str | None = None, event: str | None = None, limit: int = 200
    ) -> list[Delivery]:
        """Return the latest deliveries, oldest first, optionally filtered."""
        found = [
            d
            for d in self.log
            if (instance is None or d.instance == instance) and (event is None or d.event == event)
        ]
        return found[-limit:]

    def clear(self) -> None:
        """Drop queued deliveries, stop the workers and forget the log."""
        for task in self._workers:
            task.cancel()
        self._workers.clear()
        self._queues.clear()
        self._inflight.clear()
        self.log.clear()

    async def close(self) -> None:
        """Stop the workers and close the HTTP client."""
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()
        if self._session is not None:
            await self._session.close()
