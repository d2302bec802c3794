"""Webhook authentication over the raw bytes, before any parsing (DESIGN.md section 4, R4)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping

from instances.models import hash_secret

SIGNATURE_HEADER = "X-Webhook-Signature"


def secret_matches(presented: str, hashes: Iterable[str]) -> bool:
    """Constant-time comparison of the presented secret's hash with every stored hash."""
    digest = hash_secret(presented)
    # Compare against all of them, so the time taken does not say which one matched.
    results = [hmac.compare_digest(digest, stored) for stored in hashes if stored]
    return bool(presented) and any(results)


def parse_signature(header: str) -> tuple[int, list[str]] | None:
    """`t=<unix>,v1=<hex>[,v1=<hex>]` → (t, signatures); None when malformed."""
    stamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and ascii_digits(value):
            stamp = int(value)
        elif name == "v1" and is_hex_digest(value):
            signatures.append(value.lower())
    if stamp is None or not signatures:
        return None
    return stamp, signatures


def ascii_digits(value: str) -> bool:
    """1 to 12 ASCII digits: str.isdigit() also takes "²" and "٣", which int() then refuses."""
    return 0 < len(value) <= 12 and value.isascii() and value.isdigit()


def is_hex_digest(value: str) -> bool:
    """A SHA-256 hex digest; hmac.compare_digest raises TypeError on non-ASCII text."""
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def sign(secret: str, body: bytes, stamp: int) -> str:
    """The `v1` value: hex HMAC-SHA256 of "t.body" keyed with the secret."""
    return hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, stamp: int | None = None) -> str:
    """A complete header value for a body (senders, tests and the fixture command use it)."""
    stamp = int(time.time()) if stamp is None else stamp
    return f"t={stamp},v1={sign(secret, body, stamp)}"


def signature_problem(
    header: str, body: bytes, secrets: Iterable[str], *, window: int, now: float | None = None
) -> str:
    """Why a signature is refused ("" when it is valid): malformed, stale or mismatched."""
    parsed = parse_signature(header)
    if parsed is None:
        return "malformed signature"
    stamp, signatures = parsed
    if abs((time.time() if now is None else now) - stamp) > window:
        return "stale signature timestamp"
    expected = [sign(secret, body, stamp) for secret in secrets if secret]
    matches = [hmac.compare_digest(given, want) for given in signatures for want in expected]
    return "" if any(matches) else "signature mismatch"


def authentication_problem(
    presented: str,
    headers: Mapping[str, str],
    body: bytes,
    hashes: Iterable[str],
    secrets: Callable[[], Iterable[str]],
    *,
    window: int,
) -> str:
    """Why a delivery is refused ("" when authentic): the provider secret, then any signature.

    `secrets` gives the plain secrets; it is called only for a signed body (an HMAC needs its key).
    """
    if not secret_matches(presented, hashes):
        return "missing secret" if not presented else "wrong secret"
    signature = headers.get(SIGNATURE_HEADER, "")
    if signature:
        return signature_problem(signature, body, secrets(), window=window)
    return ""
