"""The one rule for which named values are secrets, for nested data and for `name=value` text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "****"
# Matched anywhere in a key, case-insensitively: apikey, apiTokenInstance, webhookUrlToken,
# Authorization, jwt_key, and `hash`, the instance token Evolution returns (reference 1.3).
SENSITIVE_NAMES = r"api[_-]?key|token|secret|passw(?:or)?d|authorization|jwt|hash|access[_-]?key"
_SENSITIVE_NAME = re.compile(rf"(?i){SENSITIVE_NAMES}")


def is_secret_name(name: object) -> bool:
    """Whether a key (of a JSON object, a header, a form field) names a secret."""
    return _SENSITIVE_NAME.search(str(name)) is not None


def mask_secrets(value: Any) -> Any:
    """A copy of a JSON value with each non-empty value under a secret name masked, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: MASK if item and is_secret_name(key) else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value
