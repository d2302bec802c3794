"""The error envelope of the public API, {"error": {"code", "message", "details"}}, as JSON.

Kept apart from api/errors.py (DRF's exception handler) so that outage.py, which that handler
uses, can build the envelope without importing it back.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

CODES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "provider_unavailable",
}
MESSAGES = {
    400: "The request is invalid; see details.",
    404: "Not found.",
    413: "The request body is too large.",
    500: "Something went wrong on our side; it has been logged.",
}


def envelope(
    status_code: int,
    code: str | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the error body for a status."""
    return {
        "error": {
            "code": code or CODES.get(status_code, "error"),
            "message": message or MESSAGES.get(status_code, "The request failed."),
            "details": details or {},
        }
    }


def error_json(status_code: int, **kwargs: Any) -> JsonResponse:
    """A plain Django JSON response carrying the envelope (for errors outside DRF views)."""
    return JsonResponse(envelope(status_code, **kwargs), status=status_code)
