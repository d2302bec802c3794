"""Request id, one access line and metrics per request, the API error envelope, 503 in outages."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from . import health, metrics, outage
from .envelope import error_json
from .logging import request_id_var

logger = logging.getLogger(__name__)
access = logging.getLogger("whatsapp_saas.access")
# Browsers fetch these with every page: their lines go to DEBUG, so a page view is one line.
QUIET_ROUTES = frozenset({"favicon", "static"})
_SAFE_ID = re.compile(r"^[A-Za-z0-9\-_.]{1,64}$")


class RequestIdMiddleware:
    """Take X-Request-ID from the caller (if sane) or make one; log with it; send it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get("X-Request-ID", ""))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ApiErrorMiddleware:
    """Under /api/, turn Django's own HTML error pages (unknown URL, 500) into the envelope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_json = response.get("Content-Type", "").startswith("application/json")
        if request.path.startswith("/api/") and response.status_code >= 400 and not is_json:
            return error_json(response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """An outage is a 503 (API and pages); under /api/ anything else is a logged 500."""
        if outage.is_outage(exception):
            outage.log(exception)
            return outage.response_for(request)
        if not request.path.startswith("/api/"):
            return None
        logger.exception("unhandled error", exc_info=exception)
        return error_json(500)


class HealthProbeMiddleware:
    """Answer probes and scrapes before host validation: they use internal addresses (web:8000)."""

    PROBES = {
        "/healthz": health.healthz,
        "/readyz": health.readyz,
        "/metrics": metrics.metrics_view,
    }

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.PROBES.get(request.path)
        return probe(request) if probe else self.get_response(request)


class AccessMiddleware:
    """One access line per request (no query string: it may carry a phone) and its metrics."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        log_access(
            request.method or "", request.path, route_of(request), response.status_code, started
        )
        return response


def request_id_from(incoming: str) -> str:
    """The caller's X-Request-ID when it is sane, else a new one."""
    return incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex


def log_access(method: str, path: str, route: str, status: int, started: float) -> None:
    """The request's access line and metrics; `started` is its time.monotonic() at arrival."""
    seconds = time.monotonic() - started
    metrics.http_request(method, route, status, seconds)
    level = logging.WARNING if status >= 500 else logging.INFO
    access.log(
        logging.DEBUG if route in QUIET_ROUTES and status < 500 else level,
        "%s %s %s %.0f ms",
        method,
        path,
        status,
        seconds * 1000,
        extra={
            "http_method": method,
            "http_path": path,
            "http_status": status,
            "route": route,
            "duration_ms": round(seconds * 1000, 1),
        },
    )


def route_of(request: HttpRequest) -> str:
    """The URL pattern's name (bounded, unlike paths with ids), "static" or "unmatched"."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match.route or "unnamed"
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"
