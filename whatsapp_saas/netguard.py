"""One address guard for every URL that we, or a provider on our behalf, will fetch.

Tenants choose these URLs (outbound media, webhook endpoints), so without a guard they could make
our workers or the operator's Evolution server call services inside our network (DESIGN.md
"Media"). A URL passes only if it is http(s), has no user info, and every address its host
resolves to is public. Hosts are read the way browsers and Node's WHATWG URL parser (which
Evolution uses) read them, so `2130706433`, `0x7f.1` or `0177.0.0.1` are seen as 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}


class URLNotAllowed(ValueError):
    """The URL may not be fetched; the message says why, in words a tenant can act on."""

    code = "url_not_allowed"


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the guard, with the addresses it was checked against (pin one of them)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def check_url(
    url: object, *, https_only: bool = False, resolver: Resolver | None = None
) -> CheckedURL:
    """The checked URL, or URLNotAllowed naming the problem."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise URLNotAllowed("Enter a URL of at most 2048 characters.")
    if any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in url):
        raise URLNotAllowed("The URL contains spaces, control characters or backslashes.")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise URLNotAllowed("The URL must start with https:// or http://.")
    if "@" in parts.netloc:
        raise URLNotAllowed("The URL may not contain a user name or password.")
    host = host_of(parts.netloc)
    port = port_of(parts.netloc, scheme)
    if is_allowed_internal(host, port):
        return CheckedURL(url, scheme, host, port, ())
    if https_only and scheme != "https":
        raise URLNotAllowed("The URL must start with https://.")
    literal = parse_ip(host)
    addresses = [literal] if literal is not None else resolve(host, port, resolver)
    for address in addresses:
        if not is_public(address):
            raise URLNotAllowed(f"{host} is not a public address.")
    return CheckedURL(url, scheme, host, port, tuple(str(a) for a in addresses))


def host_of(netloc: str) -> str:
    """The host part, lower-cased and without brackets or a trailing dot."""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise URLNotAllowed("The URL's IPv6 address is not closed with ].")
        return netloc[1:end].lower()
    host = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
    host = host.lower().rstrip(".")
    if not host:
        raise URLNotAllowed("The URL has no host.")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise URLNotAllowed("The URL's host name is not valid.") from exc


def port_of(netloc: str, scheme: str) -> int:
    """The explicit port, or the scheme's default."""
    tail = netloc.rsplit("]", 1)[-1]
    if ":" not in tail:
        return DEFAULT_PORTS[scheme]
    text = tail.rsplit(":", 1)[1]
    if not text:
        return DEFAULT_PORTS[scheme]
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise URLNotAllowed("The URL's port is not a number from 1 to 65535.")
    return int(text)


def parse_ip(host: str) -> Address | None:
    """The address a host names literally (any IPv4 spelling a WHATWG parser accepts), or None."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%")[0])
        except ValueError as exc:
            raise URLNotAllowed("The URL's IPv6 address is not valid.") from exc
    labels = host.split(".")
    if not labels[-1] or not looks_numeric(labels[-1]):
        return None
    numbers = [ipv4_part(label) for label in labels]
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]):
        raise URLNotAllowed("The URL's IPv4 address is not valid.")
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        raise URLNotAllowed("The URL's IPv4 address is not valid.")
    value = numbers[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(numbers[:-1]))
    return ipaddress.IPv4Address(value)


def looks_numeric(label: str) -> bool:
    """A label a WHATWG parser reads as a number (so the host is an IPv4 address)."""
    if label.startswith(("0x", "0X")):
        return all(c in "0123456789abcdefABCDEF" for c in label[2:])
    return label.isascii() and label.isdigit()


def ipv4_part(label: str) -> int:
    """One dotted part: hex with 0x, octal with a leading 0, decimal otherwise."""
    try:
        if label[:2].lower() == "0x":
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label[1:], 8)
        return int(label, 10)
    except ValueError as exc:
        raise URLNotAllowed("The URL's IPv4 address is not valid.") from exc


def resolve(host: str, port: int, resolver: Resolver | None) -> list[Address]:
    """Every address the host resolves to."""
    try:
        found = (resolver or system_resolver)(host, port)
    except OSError as exc:
        raise URLNotAllowed(f"{host} cannot be resolved.") from exc
    if not found:
        raise URLNotAllowed(f"{host} cannot be resolved.")
    return [ipaddress.ip_address(a.split("%")[0]) for a in found]


def system_resolver(host: str, port: int) -> list[str]:
    """The system's answer for host (A and AAAA)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port)})


def is_public(address: Address) -> bool:
    """Globally routable unicast, also for the IPv4 address hidden in a mapped IPv6 form."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast and not address.is_unspecified


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a mapped, compatible, 6to4 or NAT64 IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    value = int(address)
    if value >> 32 == 0 and value > 1:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def is_allowed_internal(host: str, port: int) -> bool:
    """Hosts listed in ALLOWED_INTERNAL_HOSTS ("host", "host:port", "[v6]:port"): the sandbox."""
    allowed: Iterable[str] = getattr(settings, "ALLOWED_INTERNAL_HOSTS", ())
    for raw in allowed:
        entry = raw.strip().lower()
        name, sep, entry_port = entry.rpartition(":")
        if not sep or not entry_port.isdigit() or (":" in name and not name.endswith("]")):
            name, entry_port = entry, ""
        if name.strip("[]") == host and entry_port in ("", str(port)):
            return True
    return False
