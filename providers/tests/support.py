"""Test helpers: recorded fixtures, a spy on outgoing requests, and the `responses` transport."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(provider: str, name: str) -> Any:
    """The parsed body of `fixtures/<provider>/<name>.json`."""
    return json.loads((FIXTURES / provider / f"{name}.json").read_text())


@dataclass
class SentRequest:
    """One request as it left our HTTP client."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any
    timeout: Any

    @property
    def path(self) -> str:
        """The URL path without scheme, host or query."""
        return re.sub(r"^[a-z]+://[^/]+", "", self.url).split("?", 1)[0]


@dataclass
class RequestSpy:
    """Records every request a session sends, whatever transport answers it."""

    sent: list[SentRequest] = field(default_factory=list)
    wrapped: set[int] = field(default_factory=set)

    def wrap(self, session: requests.Session, monkeypatch: pytest.MonkeyPatch) -> None:
        """Intercept `session.send` once (undone by monkeypatch at teardown)."""
        if id(session) in self.wrapped:
            return
        self.wrapped.add(id(session))
        original = session.send

        def send(prepared: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            body = prepared.body
            if isinstance(body, bytes):
                body = body.decode()
            parsed = json.loads(body) if body else None
            self.sent.append(
                SentRequest(
                    str(prepared.method),
                    str(prepared.url),
                    dict(prepared.headers),
                    parsed,
                    kwargs.get("timeout"),
                )
            )
            return original(prepared, **kwargs)

        monkeypatch.setattr(session, "send", send)


class ResponsesTransport:
    """Transport hooks of the gateway contract, answered by the `responses` library."""

    rsps: responses.RequestsMock

    @pytest.fixture(autouse=True)
    def _responses(self) -> Iterator[None]:
        """Activate `responses` for the test."""
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            self.rsps = rsps
            yield

    def probe_route(self) -> tuple[str, str]:
        """(method, URL) of the probe call; subclasses must provide it."""
        raise NotImplementedError

    def serve_probe(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """From now on the probe URL answers `status` with `body` (JSON unless a string)."""
        method, url = self.probe_route()
        kwargs: dict[str, Any] = {"status": status, "headers": headers or {}}
        if isinstance(body, str):
            kwargs["body"] = body
        elif body is not None:
            kwargs["json"] = body
        self.rsps.upsert(method, url, **kwargs)

    def serve_probe_timeout(self) -> None:
        """From now on the probe URL times out."""
        method, url = self.probe_route()
        self.rsps.upsert(method, url, body=requests.ReadTimeout("read timed out"))

    def serve_probe_connection_error(self) -> None:
        """From now on the probe URL cannot be reached."""
        method, url = self.probe_route()
        self.rsps.upsert(method, url, body=requests.ConnectionError("connection refused"))
