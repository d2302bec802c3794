"""The error taxonomy: which statuses can be retried, Retry-After, Evolution message shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from providers.errors import (
    InstanceUnavailableError,
    ProviderAuthenticationError,
    ProviderCircuitOpenError,
    ProviderError,
    ProviderInvalidRequestError,
    ProviderNotFoundError,
    ProviderOperationFailedError,
    ProviderProtocolError,
    ProviderQuotaExceededError,
    ProviderRateLimitedError,
    ProviderTransientError,
    RecipientNotOnWhatsAppError,
    error_class_for_status,
    evolution_error_message,
    evolution_missing_recipient,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [
        (400, ProviderInvalidRequestError, False),
        (401, ProviderAuthenticationError, False),
        (403, ProviderAuthenticationError, False),
        (404, ProviderNotFoundError, False),
        (408, ProviderTransientError, True),
        (409, ProviderInvalidRequestError, False),
        (422, ProviderInvalidRequestError, False),
        (429, ProviderRateLimitedError, True),
        (466, ProviderQuotaExceededError, False),
        (500, ProviderTransientError, True),
        (503, ProviderTransientError, True),
        (302, ProviderProtocolError, False),
    ],
)
def test_status_to_error_class(
    status: int, error_class: type[ProviderError], retryable: bool
) -> None:
    assert error_class_for_status(status) is error_class
    assert error_class("x").retryable is retryable


@pytest.mark.parametrize(
    ("error_class", "retryable", "trips_breaker"),
    [
        (ProviderTransientError, True, True),
        (ProviderCircuitOpenError, True, True),
        (InstanceUnavailableError, True, False),
        (ProviderRateLimitedError, True, False),
        (ProviderQuotaExceededError, False, False),
        (RecipientNotOnWhatsAppError, False, False),
        (ProviderOperationFailedError, False, False),
    ],
)
def test_only_server_side_trouble_trips_the_breaker(
    error_class: type[ProviderError], retryable: bool, trips_breaker: bool
) -> None:
    error = error_class("x")
    assert (error.retryable, error.trips_breaker) == (retryable, trips_breaker)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_as_seconds_or_http_date(header: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}},
            "Unauthorized",
        ),
        ({"status": 400, "response": {"message": ["Text is required"]}}, "Text is required"),
        (
            {"status": 400, "response": {"message": [["a is required", "b is required"]]}},
            "a is required; b is required",
        ),
        (
            {
                "status": 400,
                "response": {
                    "message": [{"jid": "5511@s.whatsapp.net", "exists": False, "number": "5511"}]
                },
            },
            "5511 is not on WhatsApp",
        ),
        (
            {"status": 400, "response": {"message": [{"code": "E1", "detail": "x"}]}},
            "code=E1, detail=x",
        ),
        ({"error": True, "message": "[object Object]"}, "provider gave no usable error message"),
        ({"error": True, "message": "Instance closed"}, "Instance closed"),
        ({"status": 500, "error": "Internal Server Error"}, "Internal Server Error"),
        ("plain text", "plain text"),
        (None, "provider gave no usable error message"),
    ],
)
def test_evolution_error_bodies_flatten_to_one_line(body: Any, message: str) -> None:
    assert evolution_error_message(body) == message


def test_missing_recipient_found_only_when_exists_is_false() -> None:
    body = {
        "response": {
            "message": [[{"jid": "x", "exists": True}, {"exists": False, "number": "5511777"}]]
        }
    }
    assert evolution_missing_recipient(body) == "5511777"
    assert evolution_missing_recipient({"response": {"message": ["Text is required"]}}) is None


def test_error_string_names_provider_and_status() -> None:
    error = ProviderNotFoundError("gone", provider="evolution", status=404)
    assert str(error) == "evolution HTTP 404: gone"
