"""The provider webhook endpoint: a plain Django view, size-checked, that answers fast.

In production `webhooks.fastpath` serves this URL ahead of Django's middleware; both answer
through `respond`, so the answers are the same whichever served the request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from whatsapp_saas import metrics
from whatsapp_saas.envelope import error_json

from . import ingest

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def receive(request: HttpRequest, provider: str, token: str) -> HttpResponse:
    """Authenticate, store once, wake processing, answer; see ingest.receive for the rules."""
    started = time.monotonic()
    body = read_limited(request, settings.WEBHOOK_MAX_BODY_BYTES)
    remote = request.META.get("REMOTE_ADDR", "")
    return respond(provider, token, body, request.headers, remote, started)


def respond(
    provider: str,
    token: str,
    body: bytes | None,
    headers: Mapping[str, str],
    remote: str,
    started: float,
) -> HttpResponse:
    """The answer to one delivery whose body is `body` (None when it was over the limit).

    Counted in the metrics by outcome, with the time since `started` (time.monotonic() when the
    request came in) as its acknowledgement latency.
    """
    outcome, response = answer(provider, token, body, headers, remote)
    metrics.webhook_received(provider, outcome, time.monotonic() - started)
    return response


def answer(
    provider: str, token: str, body: bytes | None, headers: Mapping[str, str], remote: str
) -> tuple[str, HttpResponse]:
    """The delivery's outcome (a metrics label) and the answer to its sender."""
    if body is None:
        logger.warning("webhook body over %d bytes refused", settings.WEBHOOK_MAX_BODY_BYTES)
        return "too_large", error_json(413)
    verdict = ingest.receive(provider, token, body, headers, remote=remote)
    if verdict.status == 403:
        return verdict.outcome, error_json(
            403, code="authentication_failed", message="Webhook authentication failed."
        )
    if verdict.status == 400:
        return verdict.outcome, error_json(
            400, code="malformed_body", message="The body is not a JSON object."
        )
    return verdict.outcome, JsonResponse({"ok": True})


def read_limited(request: HttpRequest, limit: int) -> bytes | None:
    """The request's body, or None when it is larger than `limit`."""
    return limited_body(request.META.get("CONTENT_LENGTH") or "", request.read, limit)


def limited_body(declared: str, read: Callable[[int], bytes], limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit` (declared or actually sent)."""
    if declared.isdigit() and int(declared) > limit:
        return None
    body = read(limit + 1)
    return None if len(body) > limit else body
