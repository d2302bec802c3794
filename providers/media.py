"""Fetching inbound media files: a size-capped download of a URL, and capped base64 decoding."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

import requests

from providers.errors import (
    MediaTooLargeError,
    ProviderConnectionError,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeoutError,
    error_class_for_status,
)
from providers.types import MediaContent, ProviderConfig

CHUNK = 64 * 1024
# A guard that raises when a URL may not be fetched (whatsapp_saas.netguard.check_url).
UrlGuard = Callable[[str], object]


def too_large(max_bytes: int, provider: str, size: int | None = None) -> MediaTooLargeError:
    """The error of a file over the limit."""
    return MediaTooLargeError(
        f"the file is larger than {max_bytes} bytes", size=size, provider=provider
    )


def decode_base64(value: str, max_bytes: int, *, provider: str) -> bytes:
    """The bytes of a base64 text, refusing before decoding when they would exceed `max_bytes`."""
    if len(value) // 4 * 3 > max_bytes + 2:
        raise too_large(max_bytes, provider, len(value) // 4 * 3)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderProtocolError("the media is not valid base64", provider=provider) from exc
    if len(data) > max_bytes:
        raise too_large(max_bytes, provider, len(data))
    return data


def download(url: str, max_bytes: int, config: ProviderConfig, *, provider: str) -> MediaContent:
    """GET a file, reading at most `max_bytes`; no redirects (the guard saw only this URL)."""
    timeout = (config.connect_timeout, config.read_timeout)
    headers = {"User-Agent": config.user_agent}
    try:
        with requests.get(
            url, stream=True, timeout=timeout, allow_redirects=False, headers=headers
        ) as response:
            if response.status_code != 200:
                raise error_class_for_status(response.status_code)(
                    f"media download answered {response.status_code}",
                    provider=provider,
                    status=response.status_code,
                )
            data = read_capped(response, max_bytes, provider)
            mime = response.headers.get("Content-Type", "").split(";")[0].strip()
    except requests.Timeout as exc:
        raise ProviderTimeoutError("media download timed out", provider=provider) from exc
    except requests.RequestException as exc:
        raise ProviderConnectionError("media download failed", provider=provider) from exc
    return MediaContent(data, mime_type=mime)


def read_capped(response: requests.Response, max_bytes: int, provider: str) -> bytes:
    """The body, stopping as soon as it passes `max_bytes` (a declared length is checked first)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes, provider, int(declared))
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise too_large(max_bytes, provider)
        chunks.append(chunk)
    return b"".join(chunks)


def unsupported(provider: str) -> ProviderError:
    """The error of a source the provider's gateway cannot read."""
    return ProviderProtocolError("the message carries nothing to fetch its file", provider=provider)
