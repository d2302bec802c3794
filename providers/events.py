"""Normalized vocabulary: connection states, the message-status ladder and webhook event types."""

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

_S = ConnectionStatus
_R = StateReason

EVOLUTION_STATES: dict[str, StateMapping] = {
    "open": StateMapping(_S.CONNECTED, _R.NONE),
    "connecting": StateMapping(_S.CONNECTING, _R.NONE),
    "close": StateMapping(_S.DISCONNECTED, _R.NONE),
    # `refused` follows the QR limit; Evolution then logs the socket out (reference 1.6).
    "refused": StateMapping(_S.DISCONNECTED, _R.QR_EXPIRED),
}

# Baileys DisconnectReason codes on `close` (reference 1.6); Evolution auto-reconnects all but
# 401/403/402/406, so those four are the ones that need a new scan or an operator.
EVOLUTION_CLOSE_CODES: dict[int, StateMapping] = {
    401: StateMapping(_S.LOGGED_OUT, _R.LOGGED_OUT),
    402: StateMapping(_S.ERROR, _R.UNRECOVERABLE),
    403: StateMapping(_S.BANNED, _R.FORBIDDEN),
    406: StateMapping(_S.ERROR, _R.UNRECOVERABLE),
    408: StateMapping(_S.DISCONNECTED, _R.CONNECTION_LOST),
    411: StateMapping(_S.ERROR, _R.MULTIDEVICE_MISMATCH),
    428: StateMapping(_S.DISCONNECTED, _R.CONNECTION_LOST),
    440: StateMapping(_S.DISCONNECTED, _R.CONNECTION_REPLACED),
    500: StateMapping(_S.ERROR, _R.BAD_SESSION),
    503: StateMapping(_S.DISCONNECTED, _R.SERVICE_UNAVAILABLE),
    515: StateMapping(_S.DISCONNECTED, _R.RESTART_REQUIRED),
}

# GreenAPI getStateInstance / stateInstanceChanged values (reference 2.2).
GREENAPI_STATES: dict[str, StateMapping] = {
    "authorized": StateMapping(_S.CONNECTED, _R.NONE),
    "notAuthorized": StateMapping(_S.DISCONNECTED, _R.WAITING_SCAN),
    "blocked": StateMapping(_S.BANNED, _R.BLOCKED),
    "sleepMode": StateMapping(_S.PAUSED, _R.PHONE_OFFLINE),
    "starting": StateMapping(_S.CONNECTING, _R.STARTING),
    "yellowCard": StateMapping(_S.PAUSED, _R.SPAM_SUSPECTED),
}


def evolution_connection_state(state: str | None, status_reason: Any = None) -> StateMapping:
    """Translate an Evolution `state` (+ Baileys `statusReason`) to ours."""
    if not state:
        # connectionState omits `state` for an instance in the DB but not loaded (reference 1.3).
        return StateMapping(_S.DISCONNECTED, _R.NOT_LOADED)
    code = _as_int(status_reason)
    if state == "close" and code not in (None, 200):
        return EVOLUTION_CLOSE_CODES.get(code, StateMapping(_S.DISCONNECTED, _R.UNKNOWN_REASON))
    return EVOLUTION_STATES.get(state, UNKNOWN_STATE)


def greenapi_connection_state(state: str | None) -> StateMapping:
    """Translate a GreenAPI `stateInstance` to ours."""
    return GREENAPI_STATES.get(state or "", UNKNOWN_STATE)


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

# Evolution renders Baileys' numeric ack as these names (reference 1.6, src/utils/renderStatus.ts).
EVOLUTION_STATUSES: dict[str, StatusMapping] = {
    "ERROR": StatusMapping(_M.FAILED, "error"),
    "PENDING": StatusMapping(_M.QUEUED),
    "SERVER_ACK": StatusMapping(_M.SENT),
    "DELIVERY_ACK": StatusMapping(_M.DELIVERED),
    "READ": StatusMapping(_M.READ),
    "PLAYED": StatusMapping(_M.PLAYED),
    # DELETED is Evolution's fallback when Baileys gives no status, not a deletion (reference 1.6).
    "DELETED": UNKNOWN_STATUS,
}
EVOLUTION_ACK_NAMES: dict[int, str] = {
    0: "ERROR",
    1: "PENDING",
    2: "SERVER_ACK",
    3: "DELIVERY_ACK",
    4: "READ",
    5: "PLAYED",
}

GREENAPI_STATUSES: dict[str, StatusMapping] = {
    "sent": StatusMapping(_M.SENT),
    "delivered": StatusMapping(_M.DELIVERED),
    "read": StatusMapping(_M.READ),
    "failed": StatusMapping(_M.FAILED, "error"),
    "noAccount": StatusMapping(_M.FAILED, "not_on_whatsapp"),
    "notInGroup": StatusMapping(_M.FAILED, "not_in_group"),
    # yellowCard holds the message in GreenAPI's 24 h queue instead of sending it (reference 2.2).
    "yellowCard": StatusMapping(_M.QUEUED, "spam_suspected"),
}


def evolution_message_status(value: str | int | None) -> StatusMapping:
    """Translate an Evolution status name or Baileys numeric ack to ours."""
    code = _as_int(value)
    name = EVOLUTION_ACK_NAMES.get(code, "") if code is not None else str(value or "").upper()
    return EVOLUTION_STATUSES.get(name, UNKNOWN_STATUS)


def greenapi_message_status(value: str | None) -> StatusMapping:
    """Translate a GreenAPI outgoingMessageStatus `status` to ours."""
    return GREENAPI_STATUSES.get(value or "", UNKNOWN_STATUS)


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
    UNSUPPORTED = "unsupported"


class EventType(StrEnum):
    """Kinds of normalized webhook event."""

    CONNECTION_CHANGED = "connection_changed"
    QR_UPDATED = "qr_updated"
    MESSAGE_RECEIVED = "message_received"
    MESSAGE_STATUS_CHANGED = "message_status_changed"
    MESSAGE_SENT = "message_sent"
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


def _as_int(value: Any) -> int | None:
    """An int from an int or a string of digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
