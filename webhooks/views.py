"""The provider webhook endpoint: a plain Django view, size-checked, that answers fast."""

from __future__ import annotations

import logging
import time

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
    """Authenticate, store once, enqueue on commit, answer; see ingest.receive for the rules."""
    started = time.perf_counter()
    outcome, response = answer(request, provider, token)
    metrics.webhook_received(provider, outcome, time.perf_counter() - started)
    return response


def answer(request: HttpRequest, provider: str, token: str) -> tuple[str, HttpResponse]:
    """The delivery's outcome (a metrics label) and the answer to its sender."""
    body = read_limited(request, settings.WEBHOOK_MAX_BODY_BYTES)
    if body is None:
        logger.warning("webhook body over %d bytes refused", settings.WEBHOOK_MAX_BODY_BYTES)
        return "too_large", error_json(413)
    verdict = ingest.receive(
        provider, token, body, request.headers, remote=request.META.get("REMOTE_ADDR", "")
    )
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
    """The body, or None when it is larger than `limit` (declared or actually sent)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body
