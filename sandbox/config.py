"""Sandbox settings: one dataclass, filled from defaults, environment variables and CLI flags."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

BOOT_ONLY = frozenset(
    {"host", "port", "seed", "clock", "clock_start", "control", "greenapi_instances"}
)


def parse_bool(value: Any) -> bool:
    """Read a yes/no value from JSON or text ("1", "true", "yes", "on")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def parse_optional_int(value: Any) -> int | None:
    """Read an integer, or None for an empty value."""
    if value is None or str(value).strip() == "":
        return None
    return int(value)


def parse_optional_float(value: Any) -> float | None:
    """Read a float, or None for an empty value."""
    if value is None or str(value).strip() == "":
        return None
    return float(value)


def parse_delays(value: Any) -> tuple[float, float, float]:
    """Read the sent, delivered and read receipt delays ("1,2,4" or a JSON list)."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    delays = tuple(float(item) for item in items)
    if len(delays) != 3 or any(d < 0 for d in delays):
        raise ValueError("receipt delays need three non-negative numbers: sent,delivered,read")
    return delays[0], delays[1], delays[2]


def parse_greenapi_instances(value: Any) -> list[tuple[int, str]]:
    """Read preconfigured GreenAPI instances ("1101000001:token,1101000002:token2")."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    result: list[tuple[int, str]] = []
    for item in items:
        text = str(item).strip()
        if text:
            id_text, _, token = text.partition(":")
            if not token:
                raise ValueError(f"GreenAPI instance needs ID:TOKEN, got {text!r}")
            result.append((int(id_text), token))
    return result


def parse_numbers(value: Any) -> frozenset[str]:
    """Read a set of phone numbers (digits), comma separated or a JSON list."""
    items = value if isinstance(value, (list, tuple, set, frozenset)) else str(value).split(",")
    return frozenset(
        "".join(ch for ch in str(item) if ch.isdigit()) for item in items if str(item).strip()
    )


def parse_codes(value: Any) -> frozenset[int]:
    """Read a set of HTTP status codes."""
    items = value if isinstance(value, (list, tuple, set, frozenset)) else str(value).split(",")
    return frozenset(int(item) for item in items if str(item).strip())


def parse_choice(*choices: str) -> Callable[[Any], str]:
    """Build a parser that accepts one of the given words."""

    def parse(value: Any) -> str:
        text = str(value).strip()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
        return text

    return parse


def setting(default: Any, parse: Callable[[Any], Any], help: str, env: str | None = None) -> Any:
    """Declare a setting with its parser, help text and environment variable."""
    meta = {"parse": parse, "help": help, "env": env}
    if isinstance(default, (list, set, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class SandboxConfig:
    """Every knob of the sandbox; env var is SANDBOX_<NAME> unless stated."""

    host: str = setting("127.0.0.1", str, "interface to listen on")
    port: int = setting(8081, int, "port to listen on (0 picks a free one)")
    evolution_api_key: str = setting(
        "sandbox-global-key",
        str,
        "Evolution global API key (header apikey)",
        env="EVOLUTION_API_KEY",
    )
    server_url: str = setting(
        "", str, "server_url in Evolution webhooks (default http://host:port)"
    )
    control: bool = setting(True, parse_bool, "serve the control API and page under /_sandbox/")
    seed: int | None = setting(
        None, parse_optional_int, "seed for ids, QR references and fault draws"
    )
    clock: str = setting(
        "real", parse_choice("real", "manual"), "real, or manual (advanced by the control API)"
    )
    clock_start: float | None = setting(
        None,
        parse_optional_float,
        "epoch seconds the manual clock starts at (default 2026-01-01T00:00:00Z)",
    )
    access_log: bool = setting(False, parse_bool, "log every request")
    evolution_qr_seconds: float = setting(
        45.0, float, "Evolution QR refresh interval (Baileys qrTimeout 45 s)"
    )
    evolution_qr_limit: int = setting(
        30, int, "Evolution QRCODE_LIMIT: QR codes issued before refused"
    )
    evolution_qr_initial_delay: float = setting(
        0.0,
        float,
        "seconds before the first Evolution QR (>0 makes create/connect answer {count: 0})",
    )
    evolution_webhook_order: str = setting(
        "concurrent",
        parse_choice("concurrent", "ordered"),
        "Evolution deliveries: concurrent, each with its own retries (as Evolution), or ordered",
    )
    evolution_refused_state: str = setting(
        "close",
        parse_choice("refused", "close"),
        "connectionState after the QR limit: close (2.3.6 resets it), or refused",
    )
    evolution_expose_token: bool = setting(
        False,
        parse_bool,
        "send the instance token as webhook apikey (AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES)",
    )
    evolution_create_delay: float = setting(
        0.0, float, "real seconds create waits with qrcode:true (Evolution: 5)"
    )
    evolution_save_messages: bool = setting(
        True,
        parse_bool,
        "keep messages for /chat/findMessages (Evolution DATABASE_SAVE_DATA_NEW_MESSAGE)",
    )
    greenapi_qr_seconds: float = setting(20.0, float, "GreenAPI QR refresh interval")
    greenapi_code_ttl: float = setting(150.0, float, "GreenAPI pairing code lifetime in seconds")
    greenapi_reboot_seconds: float = setting(
        5.0, float, "GreenAPI reboot: seconds spent in starting"
    )
    greenapi_reboot_on_settings: bool = setting(
        False, parse_bool, "setSettings reboots the instance as GreenAPI does"
    )
    greenapi_instances: list[tuple[int, str]] = setting(
        [], parse_greenapi_instances, "preconfigured GreenAPI instances ID:TOKEN, comma separated"
    )
    greenapi_journal_delay: float = setting(
        0.0, float, "GreenAPI: seconds before a send shows in lastOutgoingMessages (up to 120)"
    )
    greenapi_partner_token: str = setting(
        "sandbox-partner-token", str, "GreenAPI partner token of the Partner API (getInstances)"
    )
    reconnect_seconds: float = setting(
        2.0, float, "seconds a recoverable disconnect takes to reconnect"
    )
    auto_receipts: bool = setting(
        True, parse_bool, "send sent/delivered/read receipts after every send"
    )
    receipt_delays: tuple[float, float, float] = setting(
        (1.0, 2.0, 4.0), parse_delays, "seconds after a send for sent,delivered,read receipts"
    )
    receipt_order: str = setting(
        "in_order", parse_choice("in_order", "reverse", "shuffle"), "order of automatic receipts"
    )
    receipt_duplicate: bool = setting(False, parse_bool, "send every automatic receipt twice")
    not_on_whatsapp: frozenset[str] = setting(
        frozenset(), parse_numbers, "phone numbers that are not on WhatsApp, comma separated"
    )
    webhook_timeout: float = setting(
        30.0, float, "Evolution WEBHOOK_REQUEST_TIMEOUT_MS, in seconds"
    )
    webhook_max_attempts: int = setting(10, int, "Evolution WEBHOOK_RETRY_MAX_ATTEMPTS")
    webhook_initial_delay: float = setting(
        5.0, float, "Evolution WEBHOOK_RETRY_INITIAL_DELAY_SECONDS"
    )
    webhook_exponential: bool = setting(
        True, parse_bool, "Evolution WEBHOOK_RETRY_USE_EXPONENTIAL_BACKOFF"
    )
    webhook_max_delay: float = setting(300.0, float, "Evolution WEBHOOK_RETRY_MAX_DELAY_SECONDS")
    webhook_jitter: float = setting(0.2, float, "Evolution WEBHOOK_RETRY_JITTER_FACTOR")
    webhook_non_retryable: frozenset[int] = setting(
        frozenset({400, 401, 403, 404, 422}),
        parse_codes,
        "Evolution WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES",
    )
    greenapi_webhook_timeout: float = setting(
        180.0, float, "GreenAPI: seconds a webhook endpoint has to answer"
    )
    greenapi_webhook_retry_seconds: float = setting(
        60.0, float, "GreenAPI: pause before resending a failed webhook"
    )
    greenapi_webhook_max_attempts: int = setting(
        1440, int, "GreenAPI: attempts before a webhook is dropped (24 h)"
    )

    def base_url(self) -> str:
        """Return the URL clients use to reach this server."""
        return self.server_url or f"http://{self.host}:{self.port}"

    def update(self, values: Mapping[str, Any], allow_boot: bool = True) -> None:
        """Parse and apply settings by name; raise ValueError on unknown names or bad values."""
        known = {f.name: f for f in dataclasses.fields(self)}
        parsed: dict[str, Any] = {}
        for name, raw in values.items():
            spec = known.get(name)
            if spec is None or (not allow_boot and name in BOOT_ONLY):
                raise ValueError(f"unknown or read-only setting: {name}")
            try:
                parsed[name] = spec.metadata["parse"](raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name}: {exc}") from exc
        for name, value in parsed.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-friendly values."""
        result: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            result[f.name] = sorted(value) if isinstance(value, frozenset) else value
        return result


def env_name(name: str) -> str:
    """Return the environment variable that sets a field."""
    spec = {f.name: f for f in dataclasses.fields(SandboxConfig)}[name]
    return spec.metadata["env"] or f"SANDBOX_{name.upper()}"


def config_from_env(environ: Mapping[str, str] | None = None) -> SandboxConfig:
    """Build a config from defaults overridden by environment variables."""
    environ = os.environ if environ is None else environ
    config = SandboxConfig()
    values = {
        f.name: environ[env_name(f.name)]
        for f in dataclasses.fields(config)
        if env_name(f.name) in environ
    }
    config.update(values)
    return config
