"""JSON from strangers: parsed with a nesting limit, and without NaN or Infinity.

CPython's parser recurses once per level, so a body nested a thousand levels deep raises
RecursionError (not ValueError) and became a 500 (issue 14); anything that walks a parsed value
recursively later (the admin, serializers) has the same problem. Providers and API clients never
nest beyond a few levels, so deeper input is refused as malformed.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class MalformedJSON(ValueError):
    """Not JSON, JSON with NaN or Infinity, or nested deeper than MAX_DEPTH."""


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed value, or MalformedJSON saying why not."""
    try:
        value = json.loads(data, parse_constant=refuse_constant)
    except RecursionError as exc:
        raise MalformedJSON(f"JSON nested deeper than {max_depth} levels.") from exc
    except ValueError as exc:
        raise MalformedJSON(f"Not valid JSON: {exc}") from exc
    if brackets(data) > max_depth and too_deep(value, max_depth):
        raise MalformedJSON(f"JSON nested deeper than {max_depth} levels.")
    return value


def brackets(data: bytes | str) -> int:
    """How many objects and arrays open in the text (strings included: an upper bound)."""
    if isinstance(data, bytes):
        return data.count(b"[") + data.count(b"{")
    return data.count("[") + data.count("{")


def refuse_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity are not JSON (RFC 8259), though Python accepts them."""
    raise ValueError(f"{name} is not a JSON value")


def too_deep(value: Any, max_depth: int) -> bool:
    """Whether objects and arrays nest more than `max_depth` levels (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > max_depth:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False
