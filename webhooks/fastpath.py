"""Provider webhooks answered straight from WSGI, ahead of Django's request stack.

An acknowledgement needs none of what the middleware adds for pages and the API (sessions,
CSRF, messages, auth, throttling, axes, templates): measured in `make bench-webhooks`, Django's
handler and middleware cost more than the ack itself. So `POST /webhooks/<provider>/<token>/`
is matched here and handed to the same code as the Django view (`views.respond`), keeping what
matters to it: the request id, one access line and the request metrics, the body limit, the
database connection lifecycle of a Django request, and a 503 envelope when PostgreSQL is down.
Requests the production settings would redirect to https, and every other path, go to Django.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.db import connections
from django.http import HttpResponse
from django.http.request import HttpHeaders

from whatsapp_saas import outage
from whatsapp_saas.envelope import error_json
from whatsapp_saas.logging import request_id_var
from whatsapp_saas.middleware import log_access, request_id_from

from . import urls, views

logger = logging.getLogger(__name__)
PATH = re.compile(rf"^/webhooks/{urls.PATTERN}")
ROUTE = f"{urls.app_name}:receive"
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class WebhookFastPath:
    """WSGI middleware: provider webhooks here, everything else to the wrapped application."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        match = PATH.match(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "POST" or redirected(environ):
            return self.app(environ, start_response)
        return serve(environ, start_response, match["provider"], match["token"])


def redirected(environ: Environ) -> bool:
    """Whether Django's SecurityMiddleware would redirect this request to https."""
    if not settings.SECURE_SSL_REDIRECT or environ.get("wsgi.url_scheme") == "https":
        return False
    proxy = settings.SECURE_PROXY_SSL_HEADER
    return not (proxy and environ.get(proxy[0], "").split(",")[0].strip() == proxy[1])


def serve(
    environ: Environ, start_response: StartResponse, provider: str, token: str
) -> list[bytes]:
    """One webhook, with what a Django request would do before and after it."""
    started = time.monotonic()
    headers = HttpHeaders(environ)
    request_id = request_id_from(headers.get("X-Request-ID", ""))
    reset = request_id_var.set(request_id)
    try:
        response = answer(environ, headers, provider, token, started)
        response["X-Request-ID"] = request_id
        response["Content-Length"] = str(len(response.content))
        log_access("POST", environ.get("PATH_INFO", ""), ROUTE, response.status_code, started)
    finally:
        release_connections()
        request_id_var.reset(reset)
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    return [response.content]


def release_connections() -> None:
    """Close database connections that failed or outlived CONN_MAX_AGE, as a request's end does.

    Django's request signals also re-arm CONN_HEALTH_CHECKS, which costs every request a
    `SELECT 1` round trip (a third of the ack's time here). Without them a connection is checked
    when it opens; one that broke since fails its statement, the ack answers 503 (the provider
    retries) and the connection is closed here.
    """
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.errors_occurred or conn.in_atomic_block or (conn.close_at and now >= conn.close_at):
            conn.close()


def answer(
    environ: Environ, headers: HttpHeaders, provider: str, token: str, started: float
) -> HttpResponse:
    """The view's answer; a 503 envelope when the database does not answer."""
    try:
        declared = environ.get("CONTENT_LENGTH") or ""
        # As Django reads it: never past the declared length (a keep-alive stream goes on).
        read = LimitedStream(environ["wsgi.input"], int(declared) if declared.isdigit() else 0).read
        body = views.limited_body(declared, read, settings.WEBHOOK_MAX_BODY_BYTES)
        remote = environ.get("REMOTE_ADDR", "")
        return views.respond(provider, token, body, headers, remote, started)
    except Exception as exc:
        if not outage.is_outage(exc):
            # The sender retries a 500; the event is not stored, so nothing is done twice.
            logger.exception("webhook ack failed")
            return error_json(500)
        outage.log(exc)
        return outage.api_response()
