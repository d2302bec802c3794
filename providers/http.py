"""Shared HTTP for gateways: cached sessions, timeouts, masked logs and a Redis circuit breaker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pybreaker
import redis
import requests
from requests.adapters import HTTPAdapter

from providers.errors import (
    ProviderCircuitOpenError,
    ProviderConnectionError,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeoutError,
    ProviderTransientError,
    error_class_for_status,
    parse_retry_after,
)
from providers.masking import MASK
from providers.types import ProviderConfig

logger = logging.getLogger("providers.http")

T = TypeVar("T")
Classifier = Callable[[int, Any, Mapping[str, str]], "ProviderError | None"]

_lock = threading.Lock()
_sessions: dict[tuple[str, str], requests.Session] = {}
_redis_clients: dict[str, redis.Redis] = {}
_breakers: dict[tuple[Any, ...], Breaker] = {}


@dataclass(frozen=True)
class HttpResponse:
    """A provider answer that passed classification."""

    status: int
    body: Any
    elapsed_ms: float


def get_session(base_url: str, user_agent: str) -> requests.Session:
    """The one pooled session for this provider base URL."""
    key = (base_url.rstrip("/"), user_agent)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = user_agent
            session.mount("http://", HTTPAdapter(pool_maxsize=32))
            session.mount("https://", HTTPAdapter(pool_maxsize=32))
            _sessions[key] = session
        return session


def get_redis(url: str) -> redis.Redis:
    """A cached Redis client; the breaker state must be shared by every worker."""
    with _lock:
        client = _redis_clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            _redis_clients[url] = client
        return client


def _counts_as_failure(exc: BaseException) -> bool:
    """Only transient provider errors trip the breaker; a 400 proves the server is alive."""
    return isinstance(exc, ProviderError) and exc.trips_breaker


class Breaker:
    """A pybreaker circuit kept in Redis; one CircuitBreaker per thread over one shared storage."""

    def __init__(
        self,
        name: str,
        storage: pybreaker.CircuitBreakerStorage,
        fail_max: int,
        reset_timeout: float,
    ) -> None:
        self.name = name
        self.storage = storage
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self._local = threading.local()

    def _circuit(self) -> pybreaker.CircuitBreaker:
        """This thread's CircuitBreaker (pybreaker holds a lock for the whole guarded call)."""
        circuit = getattr(self._local, "circuit", None)
        if circuit is None:
            circuit = pybreaker.CircuitBreaker(
                fail_max=self.fail_max,
                reset_timeout=self.reset_timeout,
                exclude=[lambda exc: not _counts_as_failure(exc)],
                state_storage=self.storage,
                name=self.name,
                throw_new_error_on_trip=False,
            )
            self._local.circuit = circuit
        return circuit

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open`, as every worker sees it."""
        return self.storage.state

    def retry_after(self) -> float | None:
        """Seconds until an open circuit lets a trial call through."""
        opened_at = self.storage.opened_at
        if opened_at is None:
            return None
        elapsed = (datetime.now(UTC) - opened_at).total_seconds()
        return max(0.0, self.reset_timeout - elapsed)

    def call(self, func: Callable[[], T]) -> T:
        """Run `func` through the circuit; an open circuit raises without calling it."""
        try:
            return self._circuit().call(func)
        except pybreaker.CircuitBreakerError as exc:
            raise ProviderCircuitOpenError(
                f"circuit {self.name} is open", retry_after=self.retry_after()
            ) from exc


def get_breaker(provider: str, base_url: str, config: ProviderConfig) -> Breaker:
    """The shared breaker of one provider base URL."""
    name = f"{provider}:{urlsplit(base_url).netloc or base_url}"
    key = (
        config.redis_url,
        config.breaker_namespace,
        name,
        config.breaker_fail_max,
        config.breaker_reset_seconds,
    )
    with _lock:
        breaker = _breakers.get(key)
    if breaker is None:
        try:
            storage = pybreaker.CircuitRedisStorage(
                pybreaker.STATE_CLOSED,
                get_redis(config.redis_url),
                namespace=f"{config.breaker_namespace}:{name}",
            )
        except redis.RedisError:
            # Redis down must not stop sending: this call goes unguarded and the next retries Redis.
            logger.warning("breaker %s: Redis unavailable, call not guarded", name)
            return Breaker(
                name,
                pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED),
                config.breaker_fail_max,
                config.breaker_reset_seconds,
            )
        breaker = Breaker(name, storage, config.breaker_fail_max, config.breaker_reset_seconds)
        with _lock:
            breaker = _breakers.setdefault(key, breaker)
    return breaker


def default_classifier(provider: str) -> Classifier:
    """Classify by HTTP status only; 2xx passes."""

    def classify(status: int, body: Any, headers: Mapping[str, str]) -> ProviderError | None:
        if 200 <= status < 300:
            return None
        return status_error(provider, status, body, headers, message=_text_of(body))

    return classify


def status_error(
    provider: str, status: int, body: Any, headers: Mapping[str, str], *, message: str
) -> ProviderError:
    """The taxonomy error for an HTTP status."""
    error_class = error_class_for_status(status)
    retry_after = parse_retry_after(headers.get("Retry-After"))
    return error_class(
        message or f"HTTP {status}",
        provider=provider,
        status=status,
        body=body,
        retry_after=retry_after,
    )


class ProviderHttpClient:
    """Sends one provider's requests: timeouts, user agent, masked logs, breaker, classification."""

    def __init__(
        self, provider: str, config: ProviderConfig, classify: Classifier | None = None
    ) -> None:
        self.provider = provider
        self.config = config
        self.classify = classify or default_classifier(provider)

    def breaker(self, base_url: str) -> Breaker:
        """The breaker guarding `base_url`."""
        return get_breaker(self.provider, base_url, self.config)

    def call(self, method: str, base_url: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return its parsed JSON body."""
        return self.request(method, base_url, path, **kwargs).body

    def request(
        self,
        method: str,
        base_url: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
        secrets: Iterable[str] = (),
        use_breaker: bool = True,
    ) -> HttpResponse:
        """Send through the breaker (unless told not to) and raise the taxonomy error on failure."""

        def send() -> HttpResponse:
            return self._send(
                method,
                base_url,
                path,
                headers=headers,
                json=json,
                params=params,
                read_timeout=read_timeout,
                secrets=tuple(secrets),
            )

        return self.breaker(base_url).call(send) if use_breaker else send()

    def _send(
        self,
        method: str,
        base_url: str,
        path: str,
        *,
        headers: Mapping[str, str] | None,
        json: Any,
        params: Mapping[str, str] | None,
        read_timeout: float | None,
        secrets: tuple[str, ...],
    ) -> HttpResponse:
        """One HTTP exchange, logged and classified."""
        session = get_session(base_url, self.config.user_agent)
        timeout = (self.config.connect_timeout, read_timeout or self.config.read_timeout)
        started = time.monotonic()
        try:
            response = session.request(
                method,
                base_url.rstrip("/") + path,
                headers=headers,
                json=json,
                params=params,
                timeout=timeout,
            )
        except requests.RequestException as exc:
            self._log(method, path, secrets, type(exc).__name__, started)
            raise self._transport_error(exc) from exc
        self._log(method, path, secrets, response.status_code, started)
        body = _parse_body(response)
        error = self.classify(response.status_code, body, response.headers)
        if error is not None:
            error.provider = error.provider or self.provider
            raise error
        if body is _UNPARSEABLE:
            raise ProviderProtocolError(
                "response is not JSON",
                provider=self.provider,
                status=response.status_code,
                body=response.text[:500],
            )
        return HttpResponse(response.status_code, body, _ms_since(started))

    def _transport_error(self, exc: requests.RequestException) -> ProviderTransientError:
        """Timeouts and connection failures are transient."""
        if isinstance(exc, requests.Timeout):
            return ProviderTimeoutError(f"timed out: {type(exc).__name__}", provider=self.provider)
        if isinstance(exc, requests.ConnectionError):
            return ProviderConnectionError("connection failed", provider=self.provider)
        return ProviderTransientError(
            f"request failed: {type(exc).__name__}", provider=self.provider
        )

    def _log(
        self, method: str, path: str, secrets: tuple[str, ...], outcome: int | str, started: float
    ) -> None:
        """Log method, masked path, status and duration; never bodies, headers or query strings."""
        masked = mask_path(path, secrets)
        elapsed = _ms_since(started)
        logger.info(
            "%s %s %s -> %s in %.0f ms",
            self.provider,
            method,
            masked,
            outcome,
            elapsed,
            extra={
                "provider": self.provider,
                "http_method": method,
                "http_path": masked,
                "http_status": str(outcome),
                "duration_ms": round(elapsed, 1),
            },
        )


def mask_path(path: str, secrets: Iterable[str]) -> str:
    """Drop the query string (it may carry a phone number) and mask every secret."""
    path = path.split("?", 1)[0]
    for secret in secrets:
        if secret:
            path = path.replace(secret, MASK)
    return path


_UNPARSEABLE = object()


def _parse_body(response: requests.Response) -> Any:
    """The JSON body, None when empty, or a marker when it is not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return _UNPARSEABLE if response.ok else response.text[:500]


def _text_of(body: Any) -> str:
    """A short readable message from any body."""
    if isinstance(body, Mapping):
        for key in ("message", "description", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    if isinstance(body, str):
        return body.strip()[:300]
    return "" if body is None or body is _UNPARSEABLE else str(body)[:300]


def _ms_since(started: float) -> float:
    """Milliseconds elapsed since a monotonic timestamp."""
    return (time.monotonic() - started) * 1000
