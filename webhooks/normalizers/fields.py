"""Strict readers for the payload fields a normalizer uses: the type and size a provider sends.

Anything else raises InvalidPayload naming the field; the normalizer then yields one InvalidEvent,
which is stored and shown but never applied (DESIGN.md "Webhooks in"). The limits are those of
the columns the values end up in, so nothing a provider sends can fail on insert (DataError) and
be retried forever. An absent field or JSON null reads as empty; providers omit fields freely.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

# Message.provider_message_id and PendingReceipt.provider_message_id.
MAX_ID = 128
# Contact.jid and .lid, Message.recipient and .sender.
MAX_JID = 120
# Contact.phone and Number.phone_number; E.164 itself stops at 15 digits.
MAX_PHONE_DIGITS = 20
# Contact.name and Number.profile_name.
MAX_NAME = 200
# States, statuses and message types: words of a provider's vocabulary.
MAX_WORD = 64
# WhatsApp's own limit for a text message (captions are shorter).
MAX_TEXT = 65_536
MAX_URL = 2000
MAX_FILE_NAME = 255
MAX_MIME = 100
# A QR as a PNG data URL is a few kB; its payload a few hundred characters.
MAX_QR = 100_000
MAX_PAIRING_CODE = 16
# Kind-specific details (a vCard) and failure descriptions.
MAX_DETAIL = 10_000
PHONE_SUFFIXES = ("@s.whatsapp.net", "@c.us")


class InvalidPayload(ValueError):
    """A field of a type or size its provider never sends."""


class Fields(Mapping[str, Any]):
    """A JSON object of a payload that knows its path, so a bad field can be named."""

    def __init__(self, values: Mapping[str, Any], path: str = "") -> None:
        self.values_ = values
        self.path = path

    def __getitem__(self, key: str) -> Any:
        return self.values_[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values_)

    def __len__(self) -> int:
        return len(self.values_)

    def where(self, key: str) -> str:
        """The dotted path of one of its fields."""
        return f"{self.path}.{key}" if self.path else key


def where(parent: Mapping[str, Any], key: str) -> str:
    """The path of `key` in `parent` (top-level payloads are plain mappings)."""
    return parent.where(key) if isinstance(parent, Fields) else key


def refuse(parent: Mapping[str, Any], key: str, expected: str) -> InvalidPayload:
    """The error for a field that is not what the provider sends."""
    return InvalidPayload(f"{where(parent, key)}: expected {expected}, got {kind_of(parent[key])}")


def kind_of(value: Any) -> str:
    """A JSON value's kind, in words."""
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "an object" if isinstance(value, Mapping) else "a list"


def child(parent: Mapping[str, Any], key: str) -> Fields:
    """A nested object ({} when absent)."""
    value = parent.get(key)
    if value is None:
        return Fields({}, where(parent, key))
    if not isinstance(value, Mapping):
        raise refuse(parent, key, "an object")
    return Fields(value, where(parent, key))


def string(parent: Mapping[str, Any], key: str, limit: int) -> str:
    """Text of at most `limit` characters ("" when absent)."""
    value = parent.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise refuse(parent, key, f"text of at most {limit} characters")
    return value


def word_or_code(parent: Mapping[str, Any], key: str, limit: int = MAX_WORD) -> str:
    """Text, or an integer written as text (GreenAPI's idInstance, Baileys' numeric acks)."""
    value = parent.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18:
        return str(value)
    return string(parent, key, limit)


def flag(parent: Mapping[str, Any], key: str) -> bool:
    """A JSON boolean (false when absent)."""
    value = parent.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise refuse(parent, key, "true or false")
    return value


def code(parent: Mapping[str, Any], key: str) -> int | None:
    """An integer code, also written as digits (None when absent)."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 10**6:
        raise refuse(parent, key, "an integer code")
    return value


def jid(parent: Mapping[str, Any], key: str) -> str:
    """A WhatsApp JID; a phone JID's user part holds at most MAX_PHONE_DIGITS digits."""
    value = string(parent, key, MAX_JID)
    if value.endswith(PHONE_SUFFIXES):
        user = value.split("@")[0].split(":")[0]
        if sum(c.isdigit() for c in user) > MAX_PHONE_DIGITS:
            raise refuse(parent, key, f"a phone JID of at most {MAX_PHONE_DIGITS} digits")
    return value


def stamp(parent: Mapping[str, Any], key: str) -> datetime | None:
    """Epoch seconds: a number, digits, or a protobuf Long `{"low": …}` (some Baileys builds)."""
    value = parent.get(key)
    if isinstance(value, Mapping):
        value = child(parent, key).get("low")
        key_name = f"{key}.low"
    else:
        key_name = key
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidPayload(f"{where(parent, key_name)}: expected epoch seconds")
    if value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def scalar(parent: Mapping[str, Any], key: str, limit: int = MAX_DETAIL) -> str | int | float:
    """A detail value: text stays text ("" when absent), a finite number stays a number."""
    value = parent.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise refuse(parent, key, "a finite number")
        return value
    return string(parent, key, limit)


def details(parent: Mapping[str, Any], paths: Mapping[str, str]) -> dict[str, Any]:
    """{name: scalar at dotted path} for a kind's details (coordinates, a vCard, a target id)."""
    found: dict[str, Any] = {}
    for name, path in paths.items():
        *parents, last = path.split(".")
        node: Mapping[str, Any] = parent
        for part in parents:
            node = child(node, part)
        found[name] = scalar(node, last)
    return found
