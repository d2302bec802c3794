"""Our own database or Redis is down: answer 503 `service_unavailable` with Retry-After, never 500.

Used by the DRF exception handler (API views), ApiErrorMiddleware (other views) and `handler500`
(errors raised outside any view, e.g. while a middleware saves the session).
"""

from __future__ import annotations

import logging
import sys

import kombu.exceptions
import redis.exceptions
from django import db
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

from .envelope import envelope, error_json

logger = logging.getLogger(__name__)

# Long enough for a restarted PostgreSQL or Redis to accept connections again.
RETRY_AFTER_SECONDS = 5
CODE = "service_unavailable"
MESSAGE = f"The service is briefly unavailable; retry in {RETRY_AFTER_SECONDS} seconds."
# Lost or refused connections and timeouts, where a retry can help. Not IntegrityError,
# ProgrammingError or DataError: those are bugs or bad data and stay a 500.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    db.OperationalError,
    db.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)


def is_outage(exc: BaseException | None) -> bool:
    """This error, or one it was raised from, means the database or Redis did not answer."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OUTAGE_ERRORS):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def log(exc: BaseException) -> None:
    """One warning line per refused request: an outage is not a bug with a stack trace to read."""
    logger.warning("service unavailable: %s: %s", type(exc).__name__, exc)


def details() -> dict[str, int]:
    """The envelope's details for a 503 service_unavailable."""
    return {"retry_after": RETRY_AFTER_SECONDS}


def api_response() -> JsonResponse:
    """The API's 503 in the error envelope (API.md)."""
    response = JsonResponse(envelope(503, CODE, MESSAGE, details()), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def page_response() -> HttpResponse:
    """A plain 503 page; rendered without a request, so no context processor touches the DB."""
    body = loader.get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS})
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def response_for(request: HttpRequest) -> HttpResponse:
    """The 503 this request gets: the envelope under /api/, a page elsewhere."""
    return api_response() if request.path.startswith("/api/") else page_response()


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a 503 when the error was an outage; the envelope or Django's page otherwise."""
    exc = sys.exc_info()[1]
    if exc is not None and is_outage(exc):
        log(exc)
        return response_for(request)
    if request.path.startswith("/api/"):
        return error_json(500)
    return defaults.server_error(request)
