"""Injected faults: latency, error statuses, 429 with Retry-After, hangs, dropped connections and
webhooks, and lost answers to requests that were carried out (the crash window of a send)."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

TIMEOUT = "timeout"
DROP = "drop"
ERROR = "error"
RATE_LIMIT = "rate_limit"
CONNECT_ERROR = "connect_error"
# The request is carried out (a send is sent, echoed and kept in history), then its answer is lost.
DROP_RESPONSE = "drop_response"
HANG_RESPONSE = "hang_response"
AFTER_HANDLING = (DROP_RESPONSE, HANG_RESPONSE)


@dataclass
class FaultSettings:
    """What goes wrong, how often (shares between 0 and 1), and for which requests."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    error_body: Any = None
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    timeout_rate: float = 0.0
    hang_seconds: float = 120.0
    connect_error_rate: float = 0.0
    drop_rate: float = 0.0
    drop_response_rate: float = 0.0
    hang_response_rate: float = 0.0
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    # Share of deliveries whose first attempt fails (a 503 from a proxy in between), so they
    # come later by the provider's retry, overtaken by later events (Evolution 1.9).
    webhook_first_attempt_fail_rate: float = 0.0
    # Event names (Evolution `event`, GreenAPI `typeWebhook`) the webhook faults touch; None: all.
    webhook_events: list[str] | None = None
    provider: str | None = None
    path_contains: str | None = None
    count: int | None = None


RATES = (
    "error_rate",
    "rate_limit_rate",
    "timeout_rate",
    "connect_error_rate",
    "drop_rate",
    "drop_response_rate",
    "hang_response_rate",
    "webhook_drop_rate",
    "webhook_duplicate_rate",
    "webhook_first_attempt_fail_rate",
)
# Settings kept as given: free JSON (error_body) or text that scopes the faults.
AS_GIVEN = ("provider", "path_contains", "error_body")


class Faults:
    """Current fault settings and the seeded draws that apply them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.settings = FaultSettings()
        self.fired: dict[str, int] = {}

    def update(self, values: dict[str, Any]) -> FaultSettings:
        """Merge new settings; raise ValueError on unknown names or bad values."""
        known = {f.name: f for f in dataclasses.fields(FaultSettings)}
        merged = dataclasses.asdict(self.settings)
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault setting: {name}")
            merged[name] = self._coerce(name, value)
        if merged["provider"] not in (None, "evolution", "greenapi"):
            raise ValueError("provider must be evolution, greenapi or null")
        self._check_status(merged["error_status"], merged["error_body"])
        self.settings = FaultSettings(**merged)
        return self.settings

    @staticmethod
    def _check_status(status: int, body: Any) -> None:
        """Allow any 4xx/5xx; a 2xx only with a body, for errors a provider answers with 200."""
        if 400 <= status <= 599 or (200 <= status <= 299 and body is not None):
            return
        raise ValueError("error_status must be a 4xx or 5xx code (or 2xx with an error_body)")

    @staticmethod
    def _coerce(name: str, value: Any) -> Any:
        """Convert one JSON value to the setting's type."""
        if value is None or name in AS_GIVEN:
            return value
        if name == "webhook_events":
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ValueError("webhook_events must be a list of event names")
            return [item.strip() for item in items if item.strip()]
        if name in ("error_status", "retry_after", "count"):
            return int(value)
        number = float(value)
        if name in RATES and not 0 <= number <= 1:
            raise ValueError(f"{name} must be between 0 and 1")
        return number

    def reset(self) -> None:
        """Remove every fault."""
        self.settings = FaultSettings()

    def as_dict(self) -> dict[str, Any]:
        """Return the settings and how many faults fired, for the control API."""
        return {**dataclasses.asdict(self.settings), "fired": dict(self.fired)}

    def _matches(self, provider: str, path: str) -> bool:
        """Tell whether request faults apply to this request."""
        s = self.settings
        if s.count is not None and s.count <= 0:
            return False
        if s.provider and s.provider != provider:
            return False
        return not s.path_contains or s.path_contains in path

    def _fire(self, kind: str) -> str:
        """Count a fault that fired and use up one of the limited count."""
        self.fired[kind] = self.fired.get(kind, 0) + 1
        if self.settings.count is not None:
            self.settings.count -= 1
        return kind

    def draw_request(self, provider: str, path: str, connect_route: bool = False) -> str | None:
        """Pick the fault for one provider request, or None."""
        s = self.settings
        if not (
            s.timeout_rate
            or s.drop_rate
            or s.error_rate
            or s.rate_limit_rate
            or s.connect_error_rate
            or s.drop_response_rate
            or s.hang_response_rate
        ):
            return None
        if not self._matches(provider, path):
            return None
        draw = self.rng.random()
        shares = (
            (TIMEOUT, s.timeout_rate),
            (DROP, s.drop_rate),
            (ERROR, s.error_rate),
            (RATE_LIMIT, s.rate_limit_rate),
            (DROP_RESPONSE, s.drop_response_rate),
            (HANG_RESPONSE, s.hang_response_rate),
        )
        for kind, rate in shares:
            if draw < rate:
                return self._fire(kind)
            draw -= rate
        if connect_route and s.connect_error_rate and self.rng.random() < s.connect_error_rate:
            return self._fire(CONNECT_ERROR)
        return None

    def latency_seconds(self, provider: str, path: str) -> float:
        """Return the added latency for a provider request."""
        if self.settings.latency_ms <= 0 or not self._matches(provider, path):
            return 0.0
        return self.settings.latency_ms / 1000

    def webhook_attempt_fails(self, event: str, attempt: int) -> bool:
        """Whether this attempt of a delivery fails before it reaches the receiver."""
        s = self.settings
        if attempt != 1 or not s.webhook_first_attempt_fail_rate:
            return False
        if s.webhook_events is not None and event not in s.webhook_events:
            return False
        if self.rng.random() >= s.webhook_first_attempt_fail_rate:
            return False
        self.fired["webhook_first_attempt_fail"] = (
            self.fired.get("webhook_first_attempt_fail", 0) + 1
        )
        return True

    def webhook_copies(self, event: str) -> int:
        """Return how many times to send the next webhook: 0 (dropped), 1, or 2 (duplicated)."""
        s = self.settings
        if s.webhook_events is not None and event not in s.webhook_events:
            return 1
        if s.webhook_drop_rate and self.rng.random() < s.webhook_drop_rate:
            self.fired["webhook_drop"] = self.fired.get("webhook_drop", 0) + 1
            return 0
        if s.webhook_duplicate_rate and self.rng.random() < s.webhook_duplicate_rate:
            self.fired["webhook_duplicate"] = self.fired.get("webhook_duplicate", 0) + 1
            return 2
        return 1
