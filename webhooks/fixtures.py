"""Recorded provider payloads (tests/fixtures/<provider>/<event>__<variant>.json); posting one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from instances.models import Number
from providers.evolution import WEBHOOK_SECRET_HEADER

from .auth import SIGNATURE_HEADER, signature_header

FIXTURES = Path(__file__).resolve().parent / "tests" / "fixtures"


def fixture_names(provider: str) -> list[str]:
    """Every fixture of a provider, as `<event>__<variant>`."""
    return sorted(path.stem for path in (FIXTURES / provider).glob("*.json"))


def fixture_bytes(provider: str, name: str) -> bytes:
    """A fixture exactly as stored."""
    return (FIXTURES / provider / f"{name}.json").read_bytes()


def load_fixture(provider: str, name: str) -> dict[str, Any]:
    """A fixture as JSON."""
    payload: dict[str, Any] = json.loads(fixture_bytes(provider, name))
    return payload


def addressed_to(number: Number, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its instance identity replaced by the number's (name or idInstance)."""
    if number.provider == "greenapi":
        payload.setdefault("instanceData", {})["idInstance"] = int(number.provider_instance_id)
    else:
        payload["instance"] = number.instance_name
    return payload


def provider_headers(
    number: Number, body: bytes, *, secret: str | None = None, sign: bool = False
) -> dict[str, str]:
    """The headers the provider sends once configured by us (reference 1.8, 2.5), maybe signed."""
    secret = number.webhook_secret if secret is None else secret
    if number.provider == "greenapi":
        headers = {"Authorization": f"Bearer {secret}"}
    else:
        headers = {WEBHOOK_SECRET_HEADER: secret}
    if sign:
        headers[SIGNATURE_HEADER] = signature_header(secret, body)
    return headers


def webhook_path(number: Number) -> str:
    """The number's webhook path on our server."""
    return f"/webhooks/{number.provider}/{number.webhook_token}/"
