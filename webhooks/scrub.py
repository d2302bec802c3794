"""Raw provider bodies are stored without the secrets some providers put in them (DESIGN.md).

With AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES=true every Evolution webhook carries the instance
token in `apikey` (Corrections and additions), and an error sink body carries the global key in
`api_key`; kept for 30 days, those bodies would hold live credentials. The dedupe key is computed
from the body as received, before this runs, so a retry still collapses onto its first copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Field names that hold a provider credential, wherever they appear in a body.
SECRET_FIELDS = frozenset(
    {"apikey", "api_key", "token", "hash", "apiTokenInstance", "webhookUrlToken", "jwt_key"}
)


def without_secrets(value: Any) -> tuple[Any, bool]:
    """A copy of a JSON value without the secret fields that hold one, and whether it had any.

    An empty one (Evolution's `apikey: null` when the token is not exposed) holds nothing and
    stays, so such a body is stored exactly as received.
    """
    if isinstance(value, Mapping):
        held = {k for k, v in value.items() if k in SECRET_FIELDS and v not in (None, "")}
        cleaned = {k: without_secrets(v) for k, v in value.items() if k not in held}
        found = bool(held) or any(inner for _, inner in cleaned.values())
        return {k: item for k, (item, _) in cleaned.items()}, found
    if isinstance(value, list):
        items = [without_secrets(item) for item in value]
        return [item for item, _ in items], any(inner for _, inner in items)
    return value, False


def stored_body(payload: Mapping[str, Any], body: bytes) -> bytes:
    """The body to store: as received when it holds no secret field, re-encoded without them."""
    cleaned, found = without_secrets(payload)
    if not found:
        return body
    return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":")).encode()
