"""The contract every gateway keeps, written once and inherited by each provider's test class.

A subclass supplies gateway hooks (`make_config`, `make_ref`, `probe`, `assert_authenticated`,
`probe_ok_body`) and transport hooks (`serve_probe`, `serve_probe_timeout`,
`serve_probe_connection_error`). `ResponsesTransport` answers with `responses`; a live subclass can
answer from the sandbox over real HTTP instead. Requests are observed by a spy on the session, so
the assertions hold whatever the transport.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from django.conf import settings

from providers import http
from providers.base import ProviderGateway
from providers.errors import (
    ProviderAuthenticationError,
    ProviderCircuitOpenError,
    ProviderError,
    ProviderInvalidRequestError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
    ProviderTimeoutError,
    ProviderTransientError,
)
from providers.http import get_redis, get_session
from providers.tests.support import RequestSpy, SentRequest
from providers.types import InstanceRef, ProviderConfig


@dataclass(frozen=True)
class ErrorCase:
    """An error answer and what the gateway must make of it."""

    id: str
    status: int
    body: Any
    error: type[ProviderError]
    message: str
    retryable: bool


class GatewayContract:
    """Inherited tests: auth, timeouts, error taxonomy, breaker. Subclasses fill in the hooks."""

    gateway_class: ClassVar[type[ProviderGateway]]
    ERROR_BODY_CASES: ClassVar[list[ErrorCase]] = []

    spy: RequestSpy
    gateway: ProviderGateway
    ref: InstanceRef

    # ---- hooks a provider's test class must implement -------------------------------------

    def make_config(self, **overrides: Any) -> ProviderConfig:
        """The provider config pointing at the transport, with `overrides` applied."""
        raise NotImplementedError

    def make_ref(self) -> InstanceRef:
        """The number the probe calls act on."""
        raise NotImplementedError

    def probe(self, gateway: ProviderGateway, ref: InstanceRef) -> Any:
        """A gateway call that needs the instance's credentials."""
        return gateway.get_state(ref)

    def probe_ok_body(self) -> Any:
        """A successful answer to the probe."""
        raise NotImplementedError

    def assert_authenticated(self, request: SentRequest, ref: InstanceRef) -> None:
        """Fail unless `request` carries the provider's credentials for `ref`."""
        raise NotImplementedError

    def serve_probe(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Make the server answer the probe with this status, body and headers from now on."""
        raise NotImplementedError

    def serve_probe_timeout(self) -> None:
        """Make the server too slow to answer the probe."""
        raise NotImplementedError

    def serve_probe_connection_error(self) -> None:
        """Make the server unreachable for the probe."""
        raise NotImplementedError

    # ---- setup ------------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _contract(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        """A gateway with its own breaker namespace in Redis, and a spy on its session."""
        self.namespace = f"test-breaker:{uuid.uuid4().hex}"
        self.spy = RequestSpy()
        self._monkeypatch = monkeypatch
        self.ref = self.make_ref()
        self.gateway = self.build_gateway()
        yield
        redis = get_redis(settings.REDIS_URL)
        for key in redis.scan_iter(f"{self.namespace}:*"):
            redis.delete(key)

    def build_gateway(self, **overrides: Any) -> ProviderGateway:
        """A gateway on this test's breaker namespace, its session spied on."""
        config = self.make_config(
            breaker_namespace=self.namespace, redis_url=settings.REDIS_URL, **overrides
        )
        self.spy.wrap(
            get_session(self.probe_base_url(config), config.user_agent), self._monkeypatch
        )
        return self.gateway_class(config)

    def probe_base_url(self, config: ProviderConfig) -> str:
        """The base URL the probe goes to."""
        return self.ref.api_url or config.base_url

    def expect_error(self, gateway: ProviderGateway | None = None) -> ProviderError:
        """Run the probe and return the ProviderError it raised."""
        with pytest.raises(ProviderError) as caught:
            self.probe(gateway or self.gateway, self.ref)
        return caught.value

    # ---- auth, timeouts, user agent --------------------------------------------------------

    def test_it_sends_the_instance_credentials(self) -> None:
        self.serve_probe(200, self.probe_ok_body())
        self.probe(self.gateway, self.ref)
        assert len(self.spy.sent) == 1
        self.assert_authenticated(self.spy.sent[0], self.ref)

    def test_it_sets_connect_and_read_timeouts(self) -> None:
        self.gateway = self.build_gateway(connect_timeout=1.5, read_timeout=7.0)
        self.serve_probe(200, self.probe_ok_body())
        self.probe(self.gateway, self.ref)
        assert self.spy.sent[-1].timeout == (1.5, 7.0)

    def test_it_sends_our_user_agent(self) -> None:
        self.serve_probe(200, self.probe_ok_body())
        self.probe(self.gateway, self.ref)
        assert self.spy.sent[0].headers["User-Agent"] == self.gateway.config.user_agent

    # ---- error taxonomy ---------------------------------------------------------------------

    @pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
    def test_server_errors_are_transient(self, status: int) -> None:
        self.serve_probe(status, {"message": "upstream trouble"})
        error = self.expect_error()
        assert isinstance(error, ProviderTransientError)
        assert error.retryable and error.status == status

    def test_a_timeout_is_transient(self) -> None:
        self.serve_probe_timeout()
        error = self.expect_error()
        assert isinstance(error, ProviderTimeoutError) and error.retryable

    def test_a_connection_error_is_transient(self) -> None:
        self.serve_probe_connection_error()
        error = self.expect_error()
        assert isinstance(error, ProviderTransientError) and error.retryable

    @pytest.mark.parametrize(
        ("status", "error_class"),
        [
            (400, ProviderInvalidRequestError),
            (401, ProviderAuthenticationError),
            (403, ProviderAuthenticationError),
            (404, ProviderNotFoundError),
            (422, ProviderInvalidRequestError),
        ],
    )
    def test_client_errors_are_not_retryable(
        self, status: int, error_class: type[ProviderError]
    ) -> None:
        self.serve_probe(status, {"message": "no"})
        error = self.expect_error()
        assert type(error) is error_class
        assert not error.retryable and error.status == status

    def test_429_carries_retry_after(self) -> None:
        self.serve_probe(429, {"message": "slow down"}, headers={"Retry-After": "7"})
        error = self.expect_error()
        assert isinstance(error, ProviderRateLimitedError)
        assert error.retryable and error.retry_after == 7.0

    def test_every_error_body_shape_parses(self, error_case: ErrorCase) -> None:
        self.serve_probe(error_case.status, error_case.body)
        error = self.expect_error()
        assert type(error) is error_case.error
        assert error.retryable is error_case.retryable
        assert error_case.message in error.message

    # ---- circuit breaker ----------------------------------------------------------------------

    def trip(self, gateway: ProviderGateway) -> None:
        """Fail `fail_max` probes with 503 so the breaker opens."""
        self.serve_probe(503, {"message": "down"})
        for _ in range(gateway.config.breaker_fail_max):
            with pytest.raises(ProviderTransientError) as caught:
                self.probe(gateway, self.ref)
            assert not isinstance(caught.value, ProviderCircuitOpenError)

    def breaker_state(self, gateway: ProviderGateway) -> str:
        """The shared breaker state of the probe's base URL."""
        return gateway.http.breaker(self.probe_base_url(gateway.config)).state

    def test_breaker_opens_after_five_transient_failures_and_short_circuits(self) -> None:
        assert self.gateway.config.breaker_fail_max == 5
        self.trip(self.gateway)
        assert self.breaker_state(self.gateway) == "open"
        sent_before = len(self.spy.sent)
        error = self.expect_error()
        assert isinstance(error, ProviderCircuitOpenError) and error.retryable
        assert error.retry_after is not None and 0 < error.retry_after <= 60
        assert len(self.spy.sent) == sent_before

    def test_four_transient_failures_keep_the_breaker_closed(self) -> None:
        self.serve_probe(503, {"message": "down"})
        for _ in range(4):
            self.expect_error()
        self.serve_probe(200, self.probe_ok_body())
        self.probe(self.gateway, self.ref)
        assert self.breaker_state(self.gateway) == "closed"

    def test_client_errors_never_open_the_breaker(self) -> None:
        self.serve_probe(400, {"message": "bad"})
        for _ in range(8):
            assert not self.expect_error().retryable
        assert self.breaker_state(self.gateway) == "closed"
        self.serve_probe(200, self.probe_ok_body())
        self.probe(self.gateway, self.ref)
        assert len(self.spy.sent) == 9

    def test_breaker_state_is_shared_between_workers(self) -> None:
        self.trip(self.gateway)
        # A fresh breaker cache stands for another worker process reading the same Redis.
        self._monkeypatch.setattr(http, "_breakers", {})
        other_worker = self.build_gateway()
        sent_before = len(self.spy.sent)
        assert isinstance(self.expect_error(other_worker), ProviderCircuitOpenError)
        assert len(self.spy.sent) == sent_before

    def test_breaker_half_opens_after_reset_timeout_and_a_success_closes_it(self) -> None:
        gateway = self.build_gateway(breaker_reset_seconds=0)
        self.trip(gateway)
        assert self.breaker_state(gateway) == "open"
        self.serve_probe(200, self.probe_ok_body())
        self.probe(gateway, self.ref)
        assert self.breaker_state(gateway) == "closed"

    def test_a_failed_trial_call_reopens_the_breaker(self) -> None:
        gateway = self.build_gateway(breaker_reset_seconds=0)
        self.trip(gateway)
        sent_before = len(self.spy.sent)
        error = self.expect_error(gateway)
        assert not isinstance(error, ProviderCircuitOpenError)
        assert len(self.spy.sent) == sent_before + 1
        assert self.breaker_state(gateway) == "open"

    # ---- logging ------------------------------------------------------------------------------

    def test_logs_method_path_status_and_never_secrets(self) -> None:
        # Our own handler on the logger sees the record before any project-wide masking filter.
        handler = RecordingHandler()
        logger = logging.getLogger("providers.http")
        logger.addHandler(handler)
        self._monkeypatch.setattr(logger, "level", logging.INFO)
        self.serve_probe(200, self.probe_ok_body())
        try:
            self.probe(self.gateway, self.ref)
        finally:
            logger.removeHandler(handler)
        record = handler.records[-1]
        assert record["http_status"] == "200"
        assert record["http_method"] == self.spy.sent[0].method
        logged = " ".join(str(value) for value in record.values())
        assert self.spy.sent[0].path.split("/")[1] in logged
        for secret in (self.ref.token, self.gateway.config.api_key):
            assert secret and secret not in logged


class RecordingHandler(logging.Handler):
    """Snapshots each record as emitted (later filters may rewrite the record in place)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append({**vars(record), "message": record.getMessage()})
