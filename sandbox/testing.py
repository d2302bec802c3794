"""Test helpers: run the sandbox on a free port in a thread, and capture webhooks it sends."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar, cast

from aiohttp import web

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.state import SANDBOX_KEY, Sandbox

T = TypeVar("T")


class SandboxServer:
    """A running sandbox: its base URL, its state, and shortcuts to the control API."""

    def __init__(
        self, app: web.Application, loop: asyncio.AbstractEventLoop, base_url: str
    ) -> None:
        self.app = app
        self.loop = loop
        self.base_url = base_url

    @property
    def sandbox(self) -> Sandbox:
        """Return the live state; read it freely, change it only through call()."""
        return self.app[SANDBOX_KEY]

    def call(self, fn: Callable[[], T], timeout: float = 10) -> T:
        """Run fn in the sandbox's event loop thread and return its result."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the control API (path relative to /_sandbox) and return the JSON; raise on error."""
        import requests

        response = requests.request(
            method, f"{self.base_url}/_sandbox{path}", json=body, timeout=10
        )
        if response.status_code >= 400:
            raise AssertionError(
                f"control {method} {path} -> {response.status_code}: {response.text}"
            )
        return response.json()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST to the control API and return the JSON object."""
        return cast(dict[str, Any], self.control("POST", path, body))

    def reset(self) -> None:
        """Forget instances, messages, faults and the webhook log."""
        self.control("POST", "/reset")

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the manual clock forward, firing due timers."""
        return self._post("/clock/advance", {"seconds": seconds})

    def settings(self, **values: Any) -> dict[str, Any]:
        """Change runtime settings, e.g. receipt_order="reverse"."""
        return self._post("/settings", values)

    def faults(self, **values: Any) -> dict[str, Any]:
        """Set faults, e.g. error_rate=1, count=1."""
        return self._post("/faults", values)

    def create_greenapi_instance(self, **body: Any) -> dict[str, Any]:
        """Create a GreenAPI instance; returns idInstance, apiTokenInstance, apiUrl."""
        return self._post("/greenapi/instances", body)

    def scan(self, provider: str, key: str | int, **body: Any) -> dict[str, Any]:
        """Simulate a scan of an instance's QR code."""
        return self._post(f"/{provider}/instances/{key}/scan", body)

    def inbound(self, provider: str, key: str | int, **body: Any) -> dict[str, Any]:
        """Simulate a message from a phone ("from", "text", "media"...)."""
        return self._post(f"/{provider}/instances/{key}/inbound", body)

    def edit(self, message_id: str, text: str) -> dict[str, Any]:
        """Its sender edits a message."""
        return self._post(f"/messages/{message_id}/edit", {"text": text})

    def revoke(self, message_id: str) -> dict[str, Any]:
        """Its sender deletes a message for everyone."""
        return self._post(f"/messages/{message_id}/revoke", {})

    def react(self, message_id: str, emoji: str, **body: Any) -> dict[str, Any]:
        """The chat reacts to a message ("" takes the reaction back)."""
        return self._post(f"/messages/{message_id}/react", {"emoji": emoji, **body})

    def incoming_call(self, provider: str, key: str | int, **body: Any) -> dict[str, Any]:
        """An incoming call ("from", "status", "video", "lid", "id")."""
        return self._post(f"/{provider}/instances/{key}/call", body)

    def receipts(self, message_id: str, statuses: list[str], interval: float = 0) -> dict[str, Any]:
        """Emit receipts for a sent message exactly as listed."""
        body = {"statuses": statuses, "interval": interval}
        return self._post(f"/messages/{message_id}/receipts", body)


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, **settings: Any
) -> Iterator[SandboxServer]:
    """Start the sandbox on 127.0.0.1 and a free port in a background thread; stop it on exit."""
    config = config or SandboxConfig(port=0)
    config.update(settings)
    ready = threading.Event()
    box: dict[str, Any] = {}
    thread = threading.Thread(target=_serve, args=(config, box, ready), name="sandbox", daemon=True)
    thread.start()
    if not ready.wait(15) or "error" in box:
        raise RuntimeError(f"sandbox did not start: {box.get('error')}")
    server = SandboxServer(box["app"], box["loop"], config.base_url())
    try:
        yield server
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(15)


def _serve(config: SandboxConfig, box: dict[str, Any], ready: threading.Event) -> None:
    """Thread body: run the app in a fresh event loop until told to stop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_run(config, box, ready, loop))
    except Exception as exc:  # reported to the starting thread
        box["error"] = repr(exc)
        ready.set()
    finally:
        _cancel_pending(loop)
        loop.close()


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await what is left (a request hanging in a timeout fault, say) before closing.

    Closing a loop with pending tasks makes asyncio log "Task was destroyed but it is pending!".
    """
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())


async def _run(
    config: SandboxConfig,
    box: dict[str, Any],
    ready: threading.Event,
    loop: asyncio.AbstractEventLoop,
) -> None:
    """Start the site, publish where it listens, wait for the stop signal, clean up."""
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=1024)
    await site.start()
    config.port = runner.addresses[0][1]
    stop = asyncio.Event()
    box.update(app=app, loop=loop, stop=stop)
    ready.set()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


@dataclass
class ReceivedWebhook:
    """One captured webhook request."""

    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    received_at: float

    @property
    def event(self) -> str | None:
        """Return the Evolution event or GreenAPI typeWebhook."""
        if isinstance(self.body, dict):
            return self.body.get("event") or self.body.get("typeWebhook")
        return None


class WebhookReceiver:
    """A tiny HTTP server on 127.0.0.1 recording every POST; answers 200 (or queued statuses)."""

    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.received: list[ReceivedWebhook] = []
        self.statuses: list[int] = []
        self.host = host
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._scheme = "https" if tls else "http"
        if tls is not None:
            # Handshakes happen in the handler threads, so one slow client never blocks the rest.
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="webhook-receiver", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on (127.0.0.1)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Return the URL to configure as a webhook."""
        return f"{self._scheme}://{self.host}:{self.port}/hook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond_with(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, then 200 again."""
        with self._cond:
            self.statuses.extend(statuses)

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        """Store one request and return the status to answer."""
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        with self._cond:
            self.received.append(ReceivedWebhook(path, headers, body, raw, time.time()))
            status = self.statuses.pop(0) if self.statuses else 200
            self._cond.notify_all()
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """Build the request handler bound to this receiver."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._record(self.path, dict(self.headers.items()), raw)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet."""

        return Handler

    def wait_for(
        self, predicate: Callable[[list[ReceivedWebhook]], bool], timeout: float = 5
    ) -> list[ReceivedWebhook]:
        """Wait until predicate(received) holds; return a copy of what was received."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    events = [r.event for r in self.received]
                    raise AssertionError(f"webhooks did not arrive in {timeout}s; got {events}")
                self._cond.wait(remaining)
            return list(self.received)

    def wait_for_event(
        self, event: str, count: int = 1, timeout: float = 5
    ) -> list[ReceivedWebhook]:
        """Wait for `count` webhooks of one event; return them."""
        self.wait_for(lambda got: sum(r.event == event for r in got) >= count, timeout)
        return self.of(event)

    def of(self, event: str) -> list[ReceivedWebhook]:
        """Return the captured webhooks of one event."""
        with self._cond:
            return [r for r in self.received if r.event == event]

    def events(self) -> list[str | None]:
        """Return the event names received so far, in order."""
        with self._cond:
            return [r.event for r in self.received]

    def clear(self) -> None:
        """Forget what was received."""
        with self._cond:
            self.received.clear()
            self.statuses.clear()
