"""What every provider's webhook normalizer provides, and small helpers to read payloads safely."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from providers.events import EventType, ProviderEvent, UnknownEvent

Payload = Mapping[str, Any]
MAX_KEY_LENGTH = 200


class WebhookNormalizer(ABC):
    """Turns one provider's webhook payloads into normalized events; never raises on odd input.

    Subclasses must set `provider`, `ALL_EVENT_TYPES` (every type they can produce; tests hold
    them to it) and `HANDLERS` (event name → method returning events), and implement the
    abstract methods below.
    """

    provider: ClassVar[str]
    ALL_EVENT_TYPES: ClassVar[frozenset[EventType]]
    HANDLERS: ClassVar[Mapping[str, Callable[[Any, Payload], list[ProviderEvent]]]]

    @abstractmethod
    def presented_secret(self, headers: Mapping[str, str]) -> str:
        """The secret the sender presents in its headers ("" when absent)."""

    @abstractmethod
    def event_name(self, payload: Payload) -> str:
        """The provider's own name for the event."""

    @abstractmethod
    def instance_of(self, payload: Payload) -> str:
        """The provider instance the payload says it comes from ("" when it does not say)."""

    @abstractmethod
    def key_parts(self, payload: Payload) -> tuple[Any, ...] | None:
        """The dedupe key fields of reference R6 for this event, or None to key on the body."""

    def dedupe_key(self, payload: Payload, body: bytes) -> str:
        """A stable key: the same delivery sent again gets the same key."""
        parts = self.key_parts(payload)
        if parts is None:
            return key_from(self.instance_of(payload), "body", hashlib.sha256(body).hexdigest())
        return key_from(*parts)

    def normalize(self, payload: Payload) -> list[ProviderEvent]:
        """The normalized events of one payload; unknown names become one UnknownEvent."""
        name = self.event_name(payload)
        handler = self.HANDLERS.get(name)
        if handler is None:
            return [
                UnknownEvent(
                    provider=self.provider,
                    instance=self.instance_of(payload),
                    raw=payload,
                    name=name,
                )
            ]
        return handler(self, payload)


def key_from(*parts: Any) -> str:
    """Join key parts with ':'; hash the tail when it would not fit the column."""
    key = ":".join("" if part is None else str(part) for part in parts)
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{key[:60]}…{hashlib.sha256(key.encode()).hexdigest()}"


def obj(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def text(value: Any) -> str:
    """`value` as a string; None and non-scalars become ""."""
    if isinstance(value, bool) or value is None or isinstance(value, (Mapping, list)):
        return ""
    return str(value)


def epoch(value: Any) -> datetime | None:
    """A UTC time from epoch seconds (int or digit string); None otherwise."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def dig(payload: Payload, path: str) -> Any:
    """The value at a dotted path (`key.id`), or None."""
    value: Any = payload
    for part in path.split("."):
        value = obj(value).get(part)
    return value


def picked(payload: Payload, paths: Mapping[str, str]) -> dict[str, Any]:
    """{name: value at path}; strings stay strings ("" when absent), numbers stay numbers."""
    values = {name: dig(payload, path) for name, path in paths.items()}
    return {
        name: v if isinstance(v, (int, float)) and not isinstance(v, bool) else text(v)
        for name, v in values.items()
    }
