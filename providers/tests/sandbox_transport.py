"""Transport hooks of the gateway contract, answered by the live sandbox over real HTTP.

The probe's answers come from the sandbox's fault controls (any error status, 429 with
Retry-After, hangs, dropped connections), or from the sandbox itself when a status has a real
cause there (a rotated token gives 401, a deleted Evolution instance 404). A `body` the contract
passes is served verbatim, as the `responses` transport serves it; without one the sandbox writes
the provider's documented body for the status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from sandbox.testing import SandboxServer

# Contract calls use a short read timeout so that a hung probe fails fast; the hang outlasts it.
PROBE_READ_TIMEOUT = 2.0
HANG_SECONDS = PROBE_READ_TIMEOUT + 1


class SandboxTransport:
    """Serves the contract's probe from the session's sandbox; subclasses name provider and path."""

    provider: ClassVar[str]
    probe_path: ClassVar[str]
    server: ClassVar[SandboxServer]

    if TYPE_CHECKING:
        # Given by the GatewayContract this transport is mixed with.
        def probe_ok_body(self) -> Any: ...

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _live_server(cls, sandbox_server: SandboxServer) -> None:
        """Give the class the running sandbox; class scope runs it before the contract's setup."""
        cls.server = sandbox_server

    @pytest.fixture(autouse=True)
    def _no_faults_left(self) -> Iterator[None]:
        """Other modules share the sandbox: leave no fault behind."""
        yield
        self.server.control("DELETE", "/faults")

    # ---- provider hooks -----------------------------------------------------------------------

    def provision(self, token: str) -> None:
        """(Re)create the probe's instance in the sandbox with this token."""
        raise NotImplementedError

    def remove(self) -> None:
        """Delete the probe's instance from the sandbox if it is there."""
        raise NotImplementedError

    def natural_statuses(self) -> dict[int, Callable[[], None]]:
        """Statuses the sandbox answers for a real reason, and how to bring that reason about."""
        return {401: self.rotate_token}

    # ---- contract transport hooks ------------------------------------------------------------

    def serve_probe(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """From now on the probe gets `status`, with `body` or else the sandbox's own body."""
        self.server.control("DELETE", "/faults")
        self.restore()
        if 200 <= status < 300 and body in (None, self.probe_ok_body()):
            return
        natural = self.natural_statuses().get(status)
        if body is None and natural is not None:
            natural()
        elif status == 429:
            retry_after = int((headers or {}).get("Retry-After", 1))
            self.fault(rate_limit_rate=1, retry_after=retry_after, error_body=body)
        else:
            # A 2xx here carries an error in its body, as Evolution's connect and restart answer.
            self.fault(error_rate=1, error_status=status, error_body=body)

    def serve_probe_timeout(self) -> None:
        """The sandbox hangs on the probe longer than the client's read timeout."""
        self.fault(timeout_rate=1, hang_seconds=HANG_SECONDS)

    def serve_probe_connection_error(self) -> None:
        """The sandbox closes the probe's connection without answering."""
        self.fault(drop_rate=1)

    # ---- helpers --------------------------------------------------------------------------------

    def fault(self, **settings: Any) -> None:
        """Set a fault limited to this provider's probe route."""
        self.server.faults(provider=self.provider, path_contains=self.probe_path, **settings)

    def fresh_probe_instance(self) -> None:
        """An empty sandbox holding only the probe's instance, with the probe's token."""
        self.server.reset()
        self.provision(self.probe_token())
        self._tampered = False

    def probe_token(self) -> str:
        """The token the probe's ref carries."""
        raise NotImplementedError

    def rotate_token(self) -> None:
        """The probe's instance gets another token, so the probe's is refused."""
        self.remove()
        self.provision("rotated-" + self.probe_token()[:12])
        self._tampered = True

    def delete_probe_instance(self) -> None:
        """The probe's instance no longer exists."""
        self.remove()
        self._tampered = True

    def restore(self) -> None:
        """Undo a rotated token or a deletion."""
        if getattr(self, "_tampered", False):
            self.remove()
            self.provision(self.probe_token())
            self._tampered = False


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `check` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.05)
