"""Small value objects that go in and out of gateways; nothing provider-specific."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from providers.events import ConnectionStatus, MessageStatus, QrCode, StateReason

__all__ = [
    "ConnectResult",
    "ConnectionState",
    "CreatedInstance",
    "HealthStatus",
    "InstanceRef",
    "MediaKind",
    "MediaMessage",
    "ProviderConfig",
    "ProviderInstance",
    "QrCode",
    "SendResult",
    "SentRecord",
    "TextMessage",
    "WebhookConfig",
    "WebhookSettings",
]


@dataclass(frozen=True)
class ProviderConfig:
    """Platform-level settings of one provider: where it is, its global key, timeouts, breaker."""

    base_url: str
    # Evolution: the global `apikey`; GreenAPI: the optional partner token (instance listing).
    api_key: str = field(default="", repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    breaker_fail_max: int = 5
    breaker_reset_seconds: float = 60.0
    breaker_namespace: str = "wa:breaker"
    redis_url: str = "redis://127.0.0.1:6379/0"
    user_agent: str = "whatsapp-saas-gateway/1.0"


@dataclass(frozen=True)
class InstanceRef:
    """One number at the provider: Evolution name + token, or GreenAPI id + token (+ apiUrl)."""

    external_id: str
    token: str = field(default="", repr=False)
    # GreenAPI serves each instance from a pool host, e.g. https://7105.api.greenapi.com (ref 2.1).
    api_url: str = ""


@dataclass(frozen=True)
class WebhookConfig:
    """Where the provider must post this number's events, and the secret it must present."""

    url: str
    secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class WebhookSettings:
    """The webhook configuration the provider currently holds."""

    url: str
    enabled: bool
    secret: str = field(default="", repr=False)
    events: tuple[str, ...] = ()
    # False when the provider would drop events we handle or post them elsewhere.
    complete: bool = True
    raw: Any = field(default=None, repr=False, compare=False)

    def matches(self, desired: WebhookConfig) -> bool:
        """Whether this configuration already delivers everything we handle to `desired`."""
        return (
            self.enabled
            and self.complete
            and self.url == desired.url
            and self.secret == desired.secret
        )


@dataclass(frozen=True)
class ConnectionState:
    """A number's normalized connection state and the provider value it came from."""

    status: ConnectionStatus
    reason: StateReason = StateReason.NONE
    provider_state: str = ""
    raw: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class CreatedInstance:
    """Result of provisioning: the reference to store (with its token) and the initial state."""

    ref: InstanceRef
    state: ConnectionState
    adopted: bool = False
    raw: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ConnectResult:
    """What a connect call gave: a QR, a pairing code, or the news that it is already connected."""

    qr: QrCode | None = None
    pairing_code: str = ""
    already_connected: bool = False
    raw: Any = field(default=None, repr=False, compare=False)


class MediaKind(StrEnum):
    """Kinds of media a gateway can send by URL."""

    IMAGE = "image"
    VIDEO = "video"
    DOCUMENT = "document"
    AUDIO = "audio"


@dataclass(frozen=True)
class TextMessage:
    """A text to send; `to` is digits with country code or a full JID."""

    to: str
    text: str
    quoted_id: str = ""
    delay_ms: int = 0
    link_preview: bool = True


@dataclass(frozen=True)
class MediaMessage:
    """A media file to send by URL."""

    to: str
    url: str
    kind: MediaKind
    caption: str = ""
    file_name: str = ""
    mime_type: str = ""
    quoted_id: str = ""
    delay_ms: int = 0


@dataclass(frozen=True)
class SendResult:
    """The provider's id for a sent message and its first status."""

    provider_message_id: str
    status: MessageStatus = MessageStatus.QUEUED
    raw: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class SentRecord:
    """A message the provider shows as sent from an instance (its history)."""

    provider_message_id: str
    to: str  # recipient digits (E.164 digits, no +, as providers.base.jid_digits gives)
    fingerprint: str
    sent_at: datetime | None


@dataclass(frozen=True)
class ProviderInstance:
    """One instance as the provider lists it; `state` is None when the listing does not say."""

    ref: InstanceRef
    state: ConnectionState | None = None
    phone: str = ""
    profile_name: str = ""
    raw: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class HealthStatus:
    """Result of a health probe."""

    reachable: bool
    response_ms: float
    version: str = ""
    detail: str = ""
