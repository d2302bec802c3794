"""Provider error taxonomy: every error says whether retrying the same call can help."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

OPAQUE_MESSAGES = frozenset({"[object Object]", ""})


class ProviderError(Exception):
    """Base of every error a gateway raises."""

    retryable: bool = False
    trips_breaker: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.body = body
        self.retry_after = retry_after

    def __str__(self) -> str:
        prefix = f"{self.provider} " if self.provider else ""
        status = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{prefix}{status}{self.message}"


class ProviderTransientError(ProviderError):
    """Timeouts, connection errors, 5xx and 408: a later retry can succeed."""

    retryable = True
    trips_breaker = True


class ProviderTimeoutError(ProviderTransientError):
    """The provider did not answer in time."""


class ProviderConnectionError(ProviderTransientError):
    """The provider could not be reached."""


class ProviderCircuitOpenError(ProviderTransientError):
    """The circuit breaker is open; no request was sent."""


class InstanceUnavailableError(ProviderTransientError):
    """The instance's own socket is down; retry after reconnecting, the server itself is fine."""

    trips_breaker = False


class ProviderRateLimitedError(ProviderError):
    """HTTP 429: retry after `retry_after` seconds."""

    retryable = True


class ProviderQuotaExceededError(ProviderError):
    """GreenAPI HTTP 466: the plan's quota is spent until it resets or the plan changes."""


class ProviderNotFoundError(ProviderError):
    """HTTP 404: the instance (or route) does not exist."""


class ProviderAuthenticationError(ProviderError):
    """HTTP 401/403: the key or token is wrong."""


class ProviderInvalidRequestError(ProviderError):
    """HTTP 400/422: the request itself is wrong; sending it again gives the same answer."""


class RecipientNotOnWhatsAppError(ProviderInvalidRequestError):
    """The recipient number has no WhatsApp account."""

    def __init__(self, message: str, *, number: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.number = number


class ProviderOperationFailedError(ProviderError):
    """The provider answered 2xx but said the operation failed."""


class ProviderProtocolError(ProviderError):
    """The provider answered something we cannot read."""


class ProviderNotSupportedError(ProviderError):
    """This provider (or its configuration) cannot do this operation."""


class MediaTooLargeError(ProviderError):
    """The media file is larger than we accept; fetching it again gives the same answer."""

    def __init__(self, message: str, *, size: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.size = size


def error_class_for_status(status: int) -> type[ProviderError]:
    """Map an HTTP status to the error class that says whether a retry can help."""
    if status == 429:
        return ProviderRateLimitedError
    # GreenAPI 466 is a plan quota (reference 2.6), not a rate limit: retrying cannot help.
    if status == 466:
        return ProviderQuotaExceededError
    if status == 408 or status >= 500:
        return ProviderTransientError
    if status == 404:
        return ProviderNotFoundError
    if status in (401, 403):
        return ProviderAuthenticationError
    if 400 <= status < 500:
        return ProviderInvalidRequestError
    return ProviderProtocolError


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a `Retry-After` header given as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def evolution_error_message(body: Any) -> str:
    """Flatten any Evolution error body (string, list, nested list, list of objects) to one line."""
    if isinstance(body, Mapping):
        response = body.get("response")
        if isinstance(response, Mapping) and "message" in response:
            return _flatten_message(response["message"])
        if "message" in body:
            return _flatten_message(body["message"])
        if isinstance(body.get("error"), str):
            return str(body["error"])
    return _flatten_message(body)


def evolution_missing_recipient(body: Any) -> str | None:
    """Return the number Evolution reported as `exists: false`, if the body says so."""
    response = body.get("response") if isinstance(body, Mapping) else None
    messages = response.get("message") if isinstance(response, Mapping) else None
    for item in _walk(messages):
        if isinstance(item, Mapping) and item.get("exists") is False:
            return str(item.get("number") or item.get("jid") or "")
    return None


def _flatten_message(value: Any) -> str:
    """Join every readable piece of a message value."""
    parts = [_describe(item) for item in _walk(value)]
    text = "; ".join(part for part in parts if part)
    if text in OPAQUE_MESSAGES:
        # Evolution serialises plain-object exceptions as "[object Object]" (reference 1.2, #2210).
        return "provider gave no usable error message"
    return text


def _walk(value: Any) -> list[Any]:
    """Flatten nested lists into their leaves."""
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _walk(item)]
    return [] if value is None else [value]


def _describe(item: Any) -> str:
    """Render one leaf of an error message."""
    if isinstance(item, Mapping):
        if item.get("exists") is False:
            return f"{item.get('number') or item.get('jid') or 'recipient'} is not on WhatsApp"
        return ", ".join(f"{key}={value}" for key, value in item.items())
    return str(item).strip()
