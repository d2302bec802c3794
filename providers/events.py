"""Normalized vocabulary: connection states, the message-status ladder and webhook event types.

Each provider's own names for states, statuses and close codes live in its module
(providers/evolution_states.py, providers/greenapi_states.py), translated to these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

PNG_DATA_URL_PREFIX = "data:image/png;base64,"


class ConnectionStatus(StrEnum):
    """A number's connection state, whatever the provider calls it (DESIGN.md section 4)."""

    DISCONNECTED = "disconnected"
    PROVISIONING = "provisioning"
    QR_PENDING = "qr_pending"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    PAUSED = "paused"
    LOGGED_OUT = "logged_out"
    BANNED = "banned"
    ERROR = "error"


class StateReason(StrEnum):
    """Why a number is in its state."""

    NONE = ""
    WAITING_SCAN = "waiting_scan"
    SCAN_COMPLETED = "scan_completed"
    QR_EXPIRED = "qr_expired"
    LOGGED_OUT = "logged_out"
    CONNECTION_LOST = "connection_lost"
    CONNECTION_REPLACED = "connection_replaced"
    RESTART_REQUIRED = "restart_required"
    BAD_SESSION = "bad_session"
    MULTIDEVICE_MISMATCH = "multidevice_mismatch"
    FORBIDDEN = "forbidden"
    SERVICE_UNAVAILABLE = "service_unavailable"
    UNRECOVERABLE = "unrecoverable"
    NOT_LOADED = "not_loaded"
    STARTING = "starting"
    PHONE_OFFLINE = "phone_offline"
    SPAM_SUSPECTED = "spam_suspected"
    BLOCKED = "blocked"
    SEND_FAILURES = "send_failures"
    OPERATOR = "operator"
    UNKNOWN_REASON = "unknown_reason"
    UNKNOWN_STATE = "unknown_state"


class StateMapping(NamedTuple):
    """A provider state translated to ours."""

    status: ConnectionStatus
    reason: StateReason


UNKNOWN_STATE = StateMapping(ConnectionStatus.ERROR, StateReason.UNKNOWN_STATE)


class MessageStatus(StrEnum):
    """One rung of the message-status ladder, `failed` (terminal) or `unknown` (never applied)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    UNKNOWN = "unknown"


LADDER: tuple[MessageStatus, ...] = (
    MessageStatus.QUEUED,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.PLAYED,
)


class StatusMapping(NamedTuple):
    """A provider message status translated to ours, with a failure reason when it failed."""

    status: MessageStatus
    reason: str = ""


_M = MessageStatus
UNKNOWN_STATUS = StatusMapping(_M.UNKNOWN)


def status_can_advance(current: MessageStatus, incoming: MessageStatus) -> bool:
    """Whether `incoming` may replace `current`: up the ladder; `failed` only from queued/sent."""
    if incoming is _M.UNKNOWN or current is _M.FAILED or incoming == current:
        return False
    if incoming is _M.FAILED:
        return current in (_M.QUEUED, _M.SENT, _M.UNKNOWN)
    if current is _M.UNKNOWN:
        return True
    return LADDER.index(incoming) > LADDER.index(current)


@dataclass(frozen=True)
class QrCode:
    """A QR to show: always a PNG data URL, plus the raw QR text when the provider gives it."""

    data_url: str
    payload: str = ""

    @classmethod
    def from_image(cls, image: str, payload: str = "") -> QrCode:
        """Build from a data URL (Evolution) or bare base64 PNG (GreenAPI, reference 2.2)."""
        image = image.strip()
        if not image.startswith("data:"):
            image = PNG_DATA_URL_PREFIX + image
        return cls(data_url=image, payload=payload)


class MessageKind(StrEnum):
    """What an inbound message carries, whatever the provider calls it."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACT = "contact"
    REACTION = "reaction"
    # WhatsApp's round video messages (Baileys `ptvMessage`).
    VIDEO_NOTE = "video_note"
    # A voice or video call shown in the conversation (Evolution `call`, GreenAPI incomingCall).
    CALL = "call"
    UNSUPPORTED = "unsupported"


# Kinds whose file is fetched from the provider and stored (DESIGN.md "Media").
MEDIA_KINDS = frozenset(
    {
        MessageKind.IMAGE,
        MessageKind.VIDEO,
        MessageKind.AUDIO,
        MessageKind.DOCUMENT,
        MessageKind.STICKER,
        MessageKind.VIDEO_NOTE,
    }
)


class ChangeKind(StrEnum):
    """What a MessageChanged event does to its earlier message."""

    EDITED = "edited"
    DELETED = "deleted"
    REACTED = "reacted"


class EventType(StrEnum):
    """Kinds of normalized webhook event."""

    CONNECTION_CHANGED = "connection_changed"
    QR_UPDATED = "qr_updated"
    MESSAGE_RECEIVED = "message_received"
    MESSAGE_STATUS_CHANGED = "message_status_changed"
    MESSAGE_SENT = "message_sent"
    MESSAGE_CHANGED = "message_changed"
    CALL_RECEIVED = "call_received"
    INSTANCE_REMOVED = "instance_removed"
    QUOTA_EXCEEDED = "quota_exceeded"
    UNKNOWN = "unknown"
    INVALID = "invalid"


@dataclass(frozen=True, kw_only=True)
class ProviderEvent:
    """Common fields of every normalized event; `raw` is the provider payload, untouched."""

    type: ClassVar[EventType]
    provider: str
    instance: str
    raw: Any
    occurred_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ConnectionChanged(ProviderEvent):
    """The number's connection state changed."""

    type: ClassVar[EventType] = EventType.CONNECTION_CHANGED
    status: ConnectionStatus
    reason: StateReason = StateReason.NONE
    provider_state: str = ""
    phone: str = ""
    profile_name: str = ""


@dataclass(frozen=True, kw_only=True)
class QrUpdated(ProviderEvent):
    """A new QR (or pairing code) is ready to be shown."""

    type: ClassVar[EventType] = EventType.QR_UPDATED
    qr: QrCode | None = None
    pairing_code: str = ""


@dataclass(frozen=True, kw_only=True)
class MessageReceived(ProviderEvent):
    """An inbound message, or one sent from the phone itself (`from_me`)."""

    type: ClassVar[EventType] = EventType.MESSAGE_RECEIVED
    message_id: str
    chat_id: str
    sender: str = ""
    from_me: bool = False
    push_name: str = ""
    message_type: str = ""
    text: str = ""
    media_url: str = ""
    caption: str = ""
    # The phone JID when `chat_id` is a `@lid` one (reference 1.6, R15); empty when unknown.
    chat_alt: str = ""
    is_group: bool = False
    file_name: str = ""
    mime_type: str = ""
    # Kind-specific details: location coordinates, a shared contact's vCard, a reaction's target.
    extra: dict[str, Any] = field(default_factory=dict)
    # providers.base.body_fingerprint of the body: a `from_me` one may be a send of ours echoed.
    fingerprint: str = ""
    # The provider id of the message this one quotes (a reply), when it quotes one.
    reply_to: str = ""
    # What the provider's gateway needs to hand over the file of a media message.
    media_source: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class MessageStatusChanged(ProviderEvent):
    """A receipt for an outbound message."""

    type: ClassVar[EventType] = EventType.MESSAGE_STATUS_CHANGED
    message_id: str
    status: MessageStatus
    reason: str = ""
    chat_id: str = ""
    provider_status: str = ""
    # The provider's words on a failure (GreenAPI `description`), kept with the message's error.
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class MessageSent(ProviderEvent):
    """The provider's echo of a message we sent through its API."""

    type: ClassVar[EventType] = EventType.MESSAGE_SENT
    message_id: str
    chat_id: str
    status: MessageStatus = MessageStatus.QUEUED
    text: str = ""
    # providers.base.body_fingerprint of the echoed body, to find the message it echoes.
    fingerprint: str = ""


@dataclass(frozen=True, kw_only=True)
class MessageChanged(ProviderEvent):
    """An edit, deletion or reaction of an earlier message: never a message of its own."""

    type: ClassVar[EventType] = EventType.MESSAGE_CHANGED
    change: ChangeKind
    # The provider id of the message that changes.
    message_id: str
    chat_id: str = ""
    # Who made the change (a phone or LID JID); the business itself when `from_me`.
    sender: str = ""
    from_me: bool = False
    # An edit's new text, or a reaction's emoji ("" takes the sender's reaction back).
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class CallReceived(ProviderEvent):
    """A voice or video call from a chat, at one of its stages (offer, missed, …)."""

    type: ClassVar[EventType] = EventType.CALL_RECEIVED
    call_id: str
    chat_id: str
    status: str = ""
    is_video: bool = False
    # The phone JID when `chat_id` is a `@lid` one.
    chat_alt: str = ""


@dataclass(frozen=True, kw_only=True)
class InstanceRemoved(ProviderEvent):
    """The provider removed the instance (Evolution `remove.instance`)."""

    type: ClassVar[EventType] = EventType.INSTANCE_REMOVED


@dataclass(frozen=True, kw_only=True)
class QuotaExceeded(ProviderEvent):
    """The provider's plan quota is spent (GreenAPI `quotaExceeded`)."""

    type: ClassVar[EventType] = EventType.QUOTA_EXCEEDED
    quota: str = ""
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(ProviderEvent):
    """Anything we do not (yet) understand; kept so it can be replayed later."""

    type: ClassVar[EventType] = EventType.UNKNOWN
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class InvalidEvent(ProviderEvent):
    """A payload its provider cannot have sent (a field of a wrong type or size): never applied."""

    type: ClassVar[EventType] = EventType.INVALID
    name: str = ""
    reason: str = ""


def as_int(value: Any) -> int | None:
    """An int from an int or a string of digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
