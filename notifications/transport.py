"""POST to a tenant's URL on the address the guard checked: no second DNS answer is ever used.

The URL is checked with whatsapp_saas/netguard.py, then the connection goes to one of the checked
addresses with the URL's own name as the Host header, the TLS SNI and the name the certificate must
match. A DNS answer that changes between the check and the connection therefore cannot point us
into our own network.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

from whatsapp_saas.netguard import CheckedURL, check_url

CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 10.0
KEPT_BODY = 1024
# Longer answers are not read to the end: the connection is closed instead of reused.
DRAIN_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered."""

    status: int
    body: str
    address: str
    retry_after: float | None = None


class Unreachable(Exception):
    """No answer: the connection, TLS or the read failed or timed out (a retry may help)."""

    def __init__(self, message: str, address: str = "") -> None:
        super().__init__(message)
        self.address = address


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST once, redirects not followed; URLNotAllowed when the URL may not be called."""
    checked = check_url(url, https_only=True)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {**headers, "Host": parts.netloc}
    failure = "no address"
    # An internal host listed on purpose (ALLOWED_INTERNAL_HOSTS) is called by its name.
    for address in checked.addresses or (checked.host,):
        try:
            response = pool_for(checked, address).urlopen(
                "POST",
                target,
                body=body,
                headers=sent,
                redirect=False,
                retries=False,
                assert_same_host=False,
                preload_content=False,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
            )
        except (NewConnectionError, ConnectTimeoutError) as exc:
            failure = f"{type(exc).__name__}: {exc}"
            continue  # the next checked address, if the name has several
        except HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}", address) from exc
        return answer_of(response, address)
    raise Unreachable(failure, "")


def pool_for(checked: CheckedURL, address: str) -> urllib3.HTTPConnectionPool:
    """A keep-alive pool to this address that speaks TLS for the URL's name."""
    if checked.scheme != "https":
        return manager().connection_from_host(address, checked.port, "http")
    return manager().connection_from_host(
        address,
        checked.port,
        "https",
        pool_kwargs={"server_hostname": checked.host, "assert_hostname": checked.host},
    )


@cache
def manager_for(ca_bundle: str) -> urllib3.PoolManager:
    """One pool manager per CA bundle (tests use their own CA)."""
    return urllib3.PoolManager(
        num_pools=100, maxsize=4, cert_reqs="CERT_REQUIRED", ca_certs=ca_bundle
    )


def manager() -> urllib3.PoolManager:
    """The pool manager for the configured CA bundle (certifi's by default)."""
    return manager_for(settings.OUTBOUND_WEBHOOKS_CA_BUNDLE or certifi.where())


def answer_of(response: urllib3.BaseHTTPResponse, address: str) -> Answer:
    """Status, the start of the body and Retry-After; the connection is reused when it can be."""
    try:
        head = response.read(KEPT_BODY, decode_content=True)
        remaining = response.length_remaining
        if remaining is not None and remaining <= DRAIN_LIMIT:
            response.drain_conn()
        else:
            response.close()
    except HTTPError as exc:
        raise Unreachable(f"{type(exc).__name__}: {exc}", address) from exc
    finally:
        response.release_conn()
    return Answer(
        status=response.status,
        body=head.decode("utf-8", "replace"),
        address=address,
        retry_after=retry_after(response.headers.get("Retry-After", "")),
    )


def retry_after(value: str) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), if it says."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
