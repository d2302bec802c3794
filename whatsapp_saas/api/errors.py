"""The one error envelope of the public API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .. import outage
from ..envelope import MESSAGES, envelope

logger = logging.getLogger(__name__)

# Field error codes of the contract (API.md): when every bad field fails with one of them, the
# envelope carries it instead of `validation_error`, so clients can branch on it.
FIELD_CODES = frozenset({"url_not_allowed"})


class ApiError(exceptions.APIException):
    """An API error with an explicit code, message and details (e.g. 409 conflict)."""

    def __init__(
        self, status_code: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler: every error, expected or not, leaves in the envelope."""
    if isinstance(exc, RequestDataTooBig):
        exc = ApiError(413, "payload_too_large", MESSAGES[413])
    if outage.is_outage(exc):
        outage.log(exc)
        return Response(
            envelope(503, outage.CODE, outage.MESSAGE, outage.details()),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(outage.RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, ApiError):
        return Response(
            envelope(exc.status_code, exc.error_code, str(exc.detail), exc.details),
            status=exc.status_code,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(envelope(500), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    response.data = envelope(response.status_code, *describe(exc))
    return response


def validation_code(codes: Any) -> str:
    """The one contract code shared by every field error, else `validation_error`."""
    found: set[str] = set()
    pending = [codes]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        else:
            found.add(str(item))
    return found.pop() if len(found) == 1 and found <= FIELD_CODES else "validation_error"


def describe(exc: Exception) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """The code, message and details for an exception DRF already knows."""
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return validation_code(exc.get_codes()), MESSAGES[400], details
    if isinstance(exc, exceptions.Throttled):
        wait = getattr(exc, "wait", None) or 1
        return (
            "throttled",
            f"Too many requests; retry in {wait:.0f} seconds.",
            {"retry_after": int(wait)},
        )
    if isinstance(exc, Http404):
        return "not_found", MESSAGES[404], None
    if isinstance(exc, PermissionDenied):
        return "permission_denied", None, None
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else None
        if isinstance(exc, exceptions.NotAuthenticated):
            code = "not_authenticated"
        return code, str(exc.detail), None
    return None, None, None
