"""The gateway interface every provider implements, plus helpers they share."""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from providers.errors import ProviderError, ProviderNotSupportedError, ProviderTransientError
from providers.http import HttpResponse, ProviderHttpClient, default_classifier
from providers.media import UrlGuard
from providers.types import (
    ConnectionState,
    ConnectResult,
    CreatedInstance,
    CredentialField,
    HealthStatus,
    InstanceRef,
    MediaContent,
    MediaKind,
    MediaMessage,
    ProviderConfig,
    ProviderInstance,
    SendResult,
    SentRecord,
    TextMessage,
    WebhookConfig,
    WebhookSettings,
)

_DEFAULT_EXTENSIONS = {
    MediaKind.IMAGE: ".jpg",
    MediaKind.VIDEO: ".mp4",
    MediaKind.AUDIO: ".mp3",
    MediaKind.DOCUMENT: ".pdf",
}


class ProviderGateway(ABC):
    """One provider behind one interface; subclasses must implement every abstract method."""

    name: ClassVar[str]
    # False when instances are created outside our platform (GreenAPI console) and only adopted.
    provisions_instances: ClassVar[bool] = True
    # True when an accepted send first waits in the provider's own queue (GreenAPI, for up to
    # 24 h): it stays `queued` at ours until the provider reports it `sent`.
    queues_sends: ClassVar[bool] = False
    # What an operator or API client gives when adding a number (GreenAPI: id and token).
    credentials: ClassVar[tuple[CredentialField, ...]] = ()
    # True when one list_instances() call carries every instance's connection state, so the
    # reconcile task makes one call per provider host instead of one per number.
    lists_connection_states: ClassVar[bool] = False
    # Seconds a performed send may take to show in the provider's echo or history: an in-flight
    # send is not sent again before this (nor before SEND_IN_FLIGHT_GRACE_SECONDS).
    history_delay_seconds: ClassVar[float] = 0.0

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.http = ProviderHttpClient(self.name, config, self.classify)

    def classify(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError | None:
        """Turn an HTTP answer into a taxonomy error, or None when it succeeded."""
        return default_classifier(self.name)(status, body, headers)

    @abstractmethod
    def create_instance(self, ref: InstanceRef, webhook: WebhookConfig) -> CreatedInstance:
        """Provision (or adopt) the instance and point its webhook at us."""

    @abstractmethod
    def connect(self, ref: InstanceRef, *, pairing_number: str = "") -> ConnectResult:
        """Start linking: a QR, or a pairing code when `pairing_number` is given."""

    @abstractmethod
    def get_state(self, ref: InstanceRef) -> ConnectionState:
        """Read the live connection state."""

    @abstractmethod
    def logout(self, ref: InstanceRef) -> None:
        """Unlink the WhatsApp session; the instance stays and can be linked again."""

    @abstractmethod
    def delete_instance(self, ref: InstanceRef) -> None:
        """Remove (or release) the instance."""

    @abstractmethod
    def restart(self, ref: InstanceRef) -> None:
        """Restart the instance's connection."""

    @abstractmethod
    def set_webhook(self, ref: InstanceRef, webhook: WebhookConfig) -> WebhookSettings:
        """Configure the instance's webhook (URL, secret and the events we handle)."""

    @abstractmethod
    def get_webhook(self, ref: InstanceRef) -> WebhookSettings | None:
        """Read the webhook configuration; None when none is set."""

    @abstractmethod
    def send_text(self, ref: InstanceRef, message: TextMessage) -> SendResult:
        """Send a text message."""

    @abstractmethod
    def send_media(self, ref: InstanceRef, message: MediaMessage) -> SendResult:
        """Send an image, video, document or audio file by URL."""

    # An empty list must mean "the provider has no such message": an answer that cannot be read
    # raises instead, so that a lane never takes "unknown" for "not sent" and sends twice.
    @abstractmethod
    def find_sent(self, ref: InstanceRef, to: str, since: datetime) -> list[SentRecord]:
        """Messages the provider shows as sent from this instance to `to` (digits) since `since`."""

    @abstractmethod
    def get_instance(self, ref: InstanceRef) -> ProviderInstance | None:
        """The instance's phone (digits), profile name and state where known; None if unknown."""

    @abstractmethod
    def list_instances(self) -> list[ProviderInstance]:
        """List the instances the provider holds for us."""

    @abstractmethod
    def health(self, ref: InstanceRef | None = None) -> HealthStatus:
        """Probe the provider: reachable, response time, version. Never raises."""

    def download_media(
        self, ref: InstanceRef, source: Mapping[str, Any], *, max_bytes: int, guard: UrlGuard
    ) -> MediaContent:
        """The file of an inbound media message; `source` is what the normalizer kept for it."""
        raise ProviderNotSupportedError(
            f"{self.name} cannot hand over media files", provider=self.name
        )

    def sent_fingerprint(self, message: TextMessage | MediaMessage) -> str:
        """The body_fingerprint the provider's echo and history will show once `message` is sent."""
        if isinstance(message, TextMessage):
            return body_fingerprint("text", message.text)
        # WhatsApp audio has no caption: the provider shows none, whatever we asked for.
        caption = "" if message.kind is MediaKind.AUDIO else message.caption
        return body_fingerprint(message.kind.value, caption)

    def new_instance_name(self, hint: str) -> str:
        """A URL-safe, unique instance name such as `acme-3f9c1a2b`."""
        slug = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")[:24].strip("-") or "wa"
        return f"{slug}-{uuid.uuid4().hex[:8]}"

    def probe(
        self, request: Callable[[], HttpResponse], version_of: Callable[[Any], str]
    ) -> HealthStatus:
        """Run a health request; any non-transient answer proves the server is reachable."""
        started = time.monotonic()
        try:
            response = request()
        except ProviderError as exc:
            elapsed = (time.monotonic() - started) * 1000
            reachable = not isinstance(exc, ProviderTransientError)
            return HealthStatus(reachable=reachable, response_ms=elapsed, detail=str(exc))
        return HealthStatus(
            reachable=True, response_ms=response.elapsed_ms, version=version_of(response.body)
        )


def digits_only(value: str) -> str:
    """Keep only the digits of a phone number."""
    return re.sub(r"\D", "", value)


def jid_digits(jid: str) -> str:
    """The phone digits of a JID (`5511…@s.whatsapp.net`, `5511…@c.us`, `5511…:12@…`)."""
    return digits_only(jid.split("@")[0].split(":")[0])


def e164_digits(value: str) -> str | None:
    """A phone number typed with country code (+, spaces, dashes, dots, brackets allowed) as its
    8 to 15 digits (E.164), or None when it is not one."""
    digits = re.sub(r"[\s\-+().]", "", value or "")
    return digits if re.fullmatch(r"\d{8,15}", digits) else None


def body_fingerprint(kind: str, text: str) -> str:
    """Identifies a message body: kind ("text" or a MediaKind value) and its text or caption."""
    return hashlib.sha256(f"{kind}\n{text.strip()}".encode()).hexdigest()


def epoch_time(value: Any) -> datetime | None:
    """A UTC time from epoch seconds given as a number or a numeric string; None otherwise."""
    try:
        seconds = 0.0 if isinstance(value, bool) else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def sent_since(sent_at: datetime | None, since: datetime) -> bool:
    """Whether a provider time (whole seconds) is not before `since`; an unknown time counts."""
    return sent_at is None or sent_at >= since.replace(microsecond=0)


def media_file_name(message: MediaMessage) -> str:
    """The given file name, else the URL's, with an extension the recipient's phone understands."""
    if message.file_name:
        return message.file_name
    name = posixpath.basename(unquote(urlsplit(message.url).path)) or message.kind.value
    if posixpath.splitext(name)[1]:
        return name
    guessed = mimetypes.guess_extension(message.mime_type) if message.mime_type else None
    return name + (guessed or _DEFAULT_EXTENSIONS[message.kind])
