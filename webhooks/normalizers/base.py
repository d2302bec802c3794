"""What every provider's webhook normalizer provides, and small helpers to read payloads safely."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from providers.events import EventType, InvalidEvent, ProviderEvent, UnknownEvent

from .fields import InvalidPayload

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
        """The normalized events of one payload; unknown names become one UnknownEvent, and a
        payload with a field of the wrong type or size one InvalidEvent."""
        name = self.event_name(payload)
        handler = self.HANDLERS.get(name)
        instance = self.instance_of(payload)
        if handler is None:
            return [UnknownEvent(provider=self.provider, instance=instance, raw=payload, name=name)]
        try:
            return handler(self, payload)
        except InvalidPayload as exc:
            return [
                InvalidEvent(
                    provider=self.provider,
                    instance=instance,
                    raw=payload,
                    name=name,
                    reason=str(exc),
                )
            ]


def key_from(*parts: Any) -> str:
    """Join key parts with ':'; hash the tail when it would not fit the column."""
    key = ":".join("" if part is None else str(part) for part in parts)
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{key[:60]}…{hashlib.sha256(key.encode()).hexdigest()}"


# Lenient readers for what ingest needs before a payload is validated (event name, instance,
# dedupe key): they never raise. Handlers read fields with the strict readers of fields.py.


def obj(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def text(value: Any) -> str:
    """`value` as a string; None and non-scalars become ""."""
    if isinstance(value, bool) or value is None or isinstance(value, (Mapping, list)):
        return ""
    return str(value)
