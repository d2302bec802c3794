"""The aiohttp application: Evolution and GreenAPI routes, control API, faults and error shapes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from aiohttp import web
from aiohttp.typedefs import Handler

from sandbox import control, edges, evolution, greenapi, history, media_routes, partner
from sandbox.config import SandboxConfig
from sandbox.errors import (
    ControlError,
    EvolutionError,
    GreenApiError,
    custom_response,
    evolution_message,
    evolution_response,
    greenapi_response,
    reason,
)
from sandbox.evolution_sim import EvolutionSim
from sandbox.faults import (
    CONNECT_ERROR,
    DROP,
    DROP_RESPONSE,
    ERROR,
    HANG_RESPONSE,
    RATE_LIMIT,
    TIMEOUT,
    Faults,
)
from sandbox.greenapi_sim import GreenApiSim
from sandbox.media import serve_media
from sandbox.state import EVOLUTION, GREENAPI, SANDBOX_KEY, Sandbox
from sandbox.webhooks import Dispatcher

log = logging.getLogger("sandbox")
# What a provider route raises for an answer it refuses; a lost answer is lost all the same.
PROVIDER_ERRORS = (EvolutionError, GreenApiError)
MAX_BODY = 64 * 1024 * 1024
CONNECT_ROUTES = ("/instance/connect/", "/instance/restart/")


def provider_of(request: web.Request) -> str | None:
    """Tell which provider a path belongs to (None for the control API and media)."""
    path = request.path
    if path.startswith(("/waInstance", partner.PREFIX)):
        return GREENAPI
    if path.startswith("/media/") or (
        path.startswith(control.PREFIX) and request.app[SANDBOX_KEY].config.control
    ):
        return None
    return EVOLUTION


def provider_error(
    provider: str | None, status: int, headers: dict[str, str] | None = None
) -> web.Response:
    """Render an error status in the provider's own shape."""
    if provider == GREENAPI:
        return greenapi_response(status, headers=headers)
    if provider is None:
        return web.json_response({"error": reason(status)}, status=status, headers=headers)
    return evolution_response(status, evolution_message(status), headers=headers)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn exceptions into each provider's error body; unknown routes as Express answers them."""
    provider = provider_of(request)
    try:
        return await handler(request)
    except EvolutionError as exc:
        return evolution_response(exc.status, exc.message)
    except GreenApiError as exc:
        return greenapi_response(exc.status, exc.text)
    except ControlError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except web.HTTPException as exc:
        if exc.status in (404, 405) and provider == EVOLUTION:
            return evolution_response(404, [f"Cannot {request.method} {request.path}"])
        if exc.status >= 400:
            return provider_error(provider, 404 if exc.status == 404 else exc.status)
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if provider == EVOLUTION:
            return evolution_response(500, [f"Error: {exc}"])
        return provider_error(provider, 500)


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the configured latency and request faults to provider routes."""
    provider = provider_of(request)
    if provider is None:
        return await handler(request)
    faults = request.app[SANDBOX_KEY].faults
    latency = faults.latency_seconds(provider, request.path)
    if latency:
        await asyncio.sleep(latency)
    connect_route = provider == EVOLUTION and request.path.startswith(CONNECT_ROUTES)
    fault = faults.draw_request(provider, request.path, connect_route)
    if fault == TIMEOUT:
        # Hang longer than any client timeout; whoever is still listening gets a proxy-style 504.
        await asyncio.sleep(faults.settings.hang_seconds)
        return provider_error(provider, 504)
    if fault == DROP:
        return drop_connection(request)
    if fault in (ERROR, RATE_LIMIT):
        s = faults.settings
        status, headers = (
            (s.error_status, None) if fault == ERROR else (429, {"Retry-After": str(s.retry_after)})
        )
        if s.error_body is not None:
            return custom_response(status, s.error_body, headers)
        return provider_error(provider, status, headers)
    if fault == CONNECT_ERROR:
        # Evolution's connect/restart catch their own errors and answer 200 (reference 1.2).
        return web.json_response({"error": True, "message": "[object Object]"})
    if fault in (DROP_RESPONSE, HANG_RESPONSE):
        return await lose_answer(request, handler, fault == HANG_RESPONSE, provider)
    return await handler(request)


async def lose_answer(
    request: web.Request, handler: Handler, hang: bool, provider: str
) -> web.StreamResponse:
    """Carry the request out, then lose its answer: the window where a sender crashes mid-call."""
    with contextlib.suppress(web.HTTPException, *PROVIDER_ERRORS):
        await handler(request)
    if hang:
        await asyncio.sleep(request.app[SANDBOX_KEY].faults.settings.hang_seconds)
        return provider_error(provider, 504)
    return drop_connection(request)


def drop_connection(request: web.Request) -> web.Response:
    """Close the socket without answering, as a crashed server or a proxy cutting the line would."""
    if request.transport is not None:
        request.transport.close()
    # Never sent: aiohttp treats the write to a closed transport as a client gone away; the access
    # log shows 499, nginx's code for a connection closed before the answer.
    return web.Response(status=499)


def build_sandbox(config: SandboxConfig) -> Sandbox:
    """Wire the sandbox parts together."""
    sb = Sandbox(config)
    seed = config.seed
    # Seeded for repeatable fault draws; nothing here is a secret.
    sb.faults = Faults(random.Random(None if seed is None else seed + 1))  # noqa: S311
    sb.webhooks = Dispatcher(sb)
    sb.evolution = EvolutionSim(sb)
    sb.greenapi = GreenApiSim(sb)
    sb.add_preconfigured()
    return sb


async def _close(app: web.Application) -> None:
    """Stop webhook workers and the HTTP client."""
    await app[SANDBOX_KEY].webhooks.close()


def create_app(config: SandboxConfig | None = None) -> web.Application:
    """Build the sandbox application."""
    config = config or SandboxConfig()
    app = web.Application(middlewares=[errors, inject_faults], client_max_size=MAX_BODY)
    app[SANDBOX_KEY] = build_sandbox(config)
    if config.control:
        app.router.add_routes(edges.routes)
        app.router.add_routes(control.routes)
    app.router.add_get("/media/{media_id}", serve_media)
    greenapi.add_routes(app)
    partner.add_routes(app)
    app.router.add_routes(history.routes)
    app.router.add_routes(media_routes.routes)
    app.router.add_routes(evolution.routes)
    app.on_cleanup.append(_close)
    return app
