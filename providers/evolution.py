"""Evolution API v2 (Baileys) gateway; endpoints and quirks: provider-contracts.md section 1."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from providers.base import (
    ProviderGateway,
    digits_only,
    jid_digits,
    media_file_name,
    sent_since,
)
from providers.errors import (
    InstanceUnavailableError,
    ProviderAuthenticationError,
    ProviderError,
    ProviderInvalidRequestError,
    ProviderNotFoundError,
    ProviderOperationFailedError,
    ProviderProtocolError,
    RecipientNotOnWhatsAppError,
    evolution_error_message,
    evolution_missing_recipient,
)
from providers.evolution_messages import history_page, sent_record
from providers.evolution_states import (
    evolution_connection_state,
    evolution_message_status,
)
from providers.http import status_error
from providers.masking import mask_secrets
from providers.media import UrlGuard, decode_base64, unsupported
from providers.types import (
    ConnectionState,
    ConnectResult,
    CreatedInstance,
    HealthStatus,
    InstanceRef,
    MediaContent,
    MediaMessage,
    ProviderInstance,
    QrCode,
    SendResult,
    SentRecord,
    TextMessage,
    WebhookConfig,
    WebhookSettings,
)

INTEGRATION = "WHATSAPP-BAILEYS"
WEBHOOK_SECRET_HEADER = "X-Webhook-Token"  # noqa: S105 (a header name)
# Events our normalizer handles; `events` must never be omitted on create (reference 1.3).
WEBHOOK_EVENTS = (
    "QRCODE_UPDATED",
    "CONNECTION_UPDATE",
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    # Edits and revokes (a revoke is an edit of type REVOKE) and deletions (Corrections).
    "MESSAGES_EDITED",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "CALL",
    "LOGOUT_INSTANCE",
    "REMOVE_INSTANCE",
    "STATUS_INSTANCE",
)
INSTANCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# findMessages pages newest first; `offset` is Evolution's name for the page size.
HISTORY_PAGE_SIZE = 100
HISTORY_MAX_PAGES = 20


class EvolutionGateway(ProviderGateway):
    """Evolution API v2: global `apikey` for create/delete/list, the instance token for the rest."""

    name = "evolution"
    # fetchInstances answers every instance's connectionStatus in one call (reference 1.3).
    lists_connection_states = True

    def classify(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError | None:
        """Evolution errors, including HTTP 200 with `error: true` (reference 1.2)."""
        if 200 <= status < 300:
            if isinstance(body, Mapping) and body.get("error") is True:
                return ProviderOperationFailedError(
                    evolution_error_message(body), provider=self.name, status=status, body=body
                )
            return None
        message = evolution_error_message(body)
        number = evolution_missing_recipient(body)
        if number is not None:
            return RecipientNotOnWhatsAppError(
                message, number=number, provider=self.name, status=status, body=body
            )
        # A dead instance socket answers 400 or 500 "Connection Closed" (reference 1.7, R9).
        if status in (400, 500) and "connection closed" in message.lower():
            return InstanceUnavailableError(message, provider=self.name, status=status, body=body)
        return status_error(self.name, status, body, headers, message=message)

    def create_instance(self, ref: InstanceRef, webhook: WebhookConfig) -> CreatedInstance:
        """POST /instance/create; a name already in use adopts that instance instead."""
        self._check_name(ref.external_id)
        body: dict[str, Any] = {
            "instanceName": ref.external_id,
            "integration": INTEGRATION,
            # qrcode:true blocks the call for 5 s (reference 1.3); connect() fetches the QR instead.
            "qrcode": False,
            "webhook": self._webhook_body(webhook),
        }
        if ref.token:
            body["token"] = ref.token
        try:
            data = self._call("POST", "/instance/create", self._global(), json=body)
        except ProviderAuthenticationError as exc:
            if exc.status == 403 and "already in use" in exc.message:
                return self._adopt(ref, webhook)
            raise
        instance = data.get("instance") or {}
        token = str(data.get("hash") or ref.token)
        return CreatedInstance(
            ref=InstanceRef(ref.external_id, token=token),
            state=self._state(instance.get("status")),
            raw=mask_secrets(data),
        )

    def connect(self, ref: InstanceRef, *, pairing_number: str = "") -> ConnectResult:
        """GET /instance/connect; `?number=` asks for a pairing code (only while `close`)."""
        params = {"number": digits_only(pairing_number)} if pairing_number else None
        data = self._call(
            "GET", f"/instance/connect/{self._seg(ref)}", self._auth(ref), params=params
        )
        return self._connect_result(data)

    def get_state(self, ref: InstanceRef) -> ConnectionState:
        """GET /instance/connectionState (live, from memory, reference 1.3)."""
        data = self._call("GET", f"/instance/connectionState/{self._seg(ref)}", self._auth(ref))
        instance = data.get("instance") if isinstance(data, Mapping) else None
        return self._state((instance or {}).get("state"), raw=data)

    def logout(self, ref: InstanceRef) -> None:
        """DELETE /instance/logout; Evolution answers 400 when it is already `close`."""
        self._call("DELETE", f"/instance/logout/{self._seg(ref)}", self._auth(ref))

    def delete_instance(self, ref: InstanceRef) -> None:
        """DELETE /instance/delete with the global key."""
        self._call("DELETE", f"/instance/delete/{self._seg(ref)}", self._global())

    def restart(self, ref: InstanceRef) -> None:
        """POST /instance/restart (PUT in v1); a `close` instance answers 200 `error: true`."""
        self._call("POST", f"/instance/restart/{self._seg(ref)}", self._auth(ref))

    def set_webhook(self, ref: InstanceRef, webhook: WebhookConfig) -> WebhookSettings:
        """POST /webhook/set with explicit `enabled` and a non-empty `events` list (R14)."""
        body = {"webhook": {"enabled": True, **self._webhook_body(webhook)}}
        data = self._call("POST", f"/webhook/set/{self._seg(ref)}", self._auth(ref), json=body)
        return self._webhook_settings(data)

    def get_webhook(self, ref: InstanceRef) -> WebhookSettings | None:
        """GET /webhook/find; the body is the stored row or null."""
        data = self._call("GET", f"/webhook/find/{self._seg(ref)}", self._auth(ref))
        return self._webhook_settings(data) if isinstance(data, Mapping) else None

    def send_text(self, ref: InstanceRef, message: TextMessage) -> SendResult:
        """POST /message/sendText."""
        body: dict[str, Any] = {
            "number": self._recipient(message.to),
            "text": message.text,
            "linkPreview": message.link_preview,
        }
        self._add_common(body, message.delay_ms, message.quoted_id)
        return self._send(ref, "/message/sendText/", body, message.delay_ms)

    def send_media(self, ref: InstanceRef, message: MediaMessage) -> SendResult:
        """POST /message/sendMedia with a media URL."""
        body: dict[str, Any] = {
            "number": self._recipient(message.to),
            "mediatype": message.kind.value,
            "media": message.url,
            "fileName": media_file_name(message),
        }
        if message.mime_type:
            body["mimetype"] = message.mime_type
        if message.caption:
            body["caption"] = message.caption
        self._add_common(body, message.delay_ms, message.quoted_id)
        return self._send(ref, "/message/sendMedia/", body, message.delay_ms)

    def find_sent(self, ref: InstanceRef, to: str, since: datetime) -> list[SentRecord]:
        """POST /chat/findMessages: stored only with DATABASE_SAVE_DATA_NEW_MESSAGE (reference)."""
        digits = jid_digits(to)
        jid = f"{digits}@s.whatsapp.net"
        where = {
            # 2.3.6 ORs remoteJid with remoteJidAlt (the phone of a LID-addressed chat); given
            # alone, remoteJid is ORed with an empty filter there and matches every chat.
            "key": {"remoteJid": jid, "remoteJidAlt": jid, "fromMe": True},
            # Evolution applies the window only when both bounds are given (fetchMessages).
            "messageTimestamp": {
                "gte": js_time(since),
                "lte": js_time(datetime.now(UTC) + timedelta(days=1)),
            },
        }
        found: list[SentRecord] = []
        for page in range(1, HISTORY_MAX_PAGES + 1):
            body = {"where": where, "page": page, "offset": HISTORY_PAGE_SIZE}
            data = self._call(
                "POST", f"/chat/findMessages/{self._seg(ref)}", self._auth(ref), json=body
            )
            records, pages = history_page(data)
            sent = [sent_record(row) for row in records if isinstance(row, Mapping)]
            found += [r for r in sent if r and r.to == digits and sent_since(r.sent_at, since)]
            older = bool(sent) and sent[-1] is not None and not sent_since(sent[-1].sent_at, since)
            if page >= pages or not records or older:
                return found
        raise ProviderProtocolError(
            f"findMessages has more than {HISTORY_MAX_PAGES} pages since {since.isoformat()}",
            provider=self.name,
        )

    def download_media(
        self, ref: InstanceRef, source: Mapping[str, Any], *, max_bytes: int, guard: UrlGuard
    ) -> MediaContent:
        """POST /chat/getBase64FromMediaMessage with the message as received (Corrections).

        The WhatsApp `url` in a webhook is encrypted; only Evolution can decrypt it. A message
        that carries `base64` already (webhook `base64: true`) needs no call.
        """
        message = source.get("message")
        if not isinstance(message, Mapping):
            raise unsupported(self.name)
        inline = (message.get("message") or {}).get("base64")
        if isinstance(inline, str) and inline:
            return MediaContent(decode_base64(inline, max_bytes, provider=self.name))
        data = self._call(
            "POST",
            f"/chat/getBase64FromMediaMessage/{self._seg(ref)}",
            self._auth(ref),
            json={"message": dict(message), "convertToMp4": False},
        )
        encoded = data.get("base64") if isinstance(data, Mapping) else None
        if not isinstance(encoded, str) or not encoded:
            raise ProviderProtocolError("the answer carries no base64", provider=self.name)
        return MediaContent(
            decode_base64(encoded, max_bytes, provider=self.name),
            mime_type=str(data.get("mimetype") or ""),
            file_name=str(data.get("fileName") or ""),
        )

    def get_instance(self, ref: InstanceRef) -> ProviderInstance | None:
        """fetchInstances?instanceName= with the instance token (reference 1.1); 404 is None.

        The token of an instance that no longer exists answers 401, not 404 (the guard finds no
        instance holding it, Corrections): gone when the global key's list confirms it.
        """
        try:
            row = self._fetch_row(ref.external_id, self._auth(ref))
        except ProviderNotFoundError:
            return None
        except ProviderAuthenticationError as exc:
            if exc.status != 401 or not self.config.api_key or self._exists(ref.external_id):
                raise
            return None
        return replace(self._listed(row), ref=ref) if row is not None else None

    def list_instances(self) -> list[ProviderInstance]:
        """GET /instance/fetchInstances (global key); rows carry tokens, so raw is redacted."""
        rows = self._call("GET", "/instance/fetchInstances", self._global())
        return [self._listed(row) for row in rows or [] if isinstance(row, Mapping)]

    def health(self, ref: InstanceRef | None = None) -> HealthStatus:
        """GET / gives the server version (reference 1.10); bypasses the breaker on purpose."""
        return self.probe(
            lambda: self.http.request(
                "GET", self.config.base_url, "/", headers=self._global(), use_breaker=False
            ),
            lambda body: str(body.get("version") or "") if isinstance(body, Mapping) else "",
        )

    def _call(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """One request to the Evolution server."""
        return self.http.call(
            method,
            self.config.base_url,
            path,
            headers=headers,
            json=json,
            params=params,
            read_timeout=read_timeout,
        )

    def _global(self) -> dict[str, str]:
        """Headers with the global key."""
        return {"apikey": self.config.api_key}

    def _auth(self, ref: InstanceRef) -> dict[str, str]:
        """Headers with the instance token; the global key is only for create/delete/list (R13)."""
        if not ref.token:
            raise ProviderAuthenticationError(
                f"instance {ref.external_id!r} has no token", provider=self.name
            )
        return {"apikey": ref.token}

    def _seg(self, ref: InstanceRef) -> str:
        """The instance name as one URL path segment."""
        return quote(ref.external_id, safe="")

    def _check_name(self, name: str) -> None:
        """Refuse names that are not URL-safe before they reach a path."""
        if not INSTANCE_NAME.match(name):
            raise ProviderInvalidRequestError(
                f"instance name {name!r} must match {INSTANCE_NAME.pattern}", provider=self.name
            )

    def _webhook_body(self, webhook: WebhookConfig) -> dict[str, Any]:
        """Per-instance webhook: secret in a header and the URL path, never with byEvents."""
        return {
            "url": webhook.url,
            # byEvents appends /event-name to the URL and breaks URL secrets (reference 1.4).
            "byEvents": False,
            "base64": False,
            "headers": {WEBHOOK_SECRET_HEADER: webhook.secret},
            "events": list(WEBHOOK_EVENTS),
        }

    def _adopt(self, ref: InstanceRef, webhook: WebhookConfig) -> CreatedInstance:
        """Take over an existing instance of that name and make its webhook ours (reference R13)."""
        row = self._fetch_row(ref.external_id, self._global())
        if row is None or not row.get("token"):
            raise ProviderNotFoundError(
                f"instance {ref.external_id!r} is in use but cannot be adopted", provider=self.name
            )
        adopted = InstanceRef(ref.external_id, token=str(row["token"]))
        self.set_webhook(adopted, webhook)
        state = self._state(row.get("connectionStatus"), raw=mask_secrets(row))
        return CreatedInstance(ref=adopted, state=state, adopted=True, raw=mask_secrets(row))

    def _exists(self, name: str) -> bool:
        """Whether the global key's instance list holds this name."""
        try:
            return self._fetch_row(name, self._global()) is not None
        except ProviderNotFoundError:
            return False

    def _fetch_row(self, name: str, headers: Mapping[str, str]) -> Mapping[str, Any] | None:
        """The fetchInstances row of one instance name, or None when the answer lacks it."""
        rows = self._call("GET", "/instance/fetchInstances", headers, params={"instanceName": name})
        return next(
            (row for row in rows or [] if isinstance(row, Mapping) and row.get("name") == name),
            None,
        )

    def _connect_result(self, data: Any) -> ConnectResult:
        """Read the shapes /instance/connect returns (reference 1.3)."""
        if not isinstance(data, Mapping):
            return ConnectResult(raw=data)
        instance = data.get("instance")
        if isinstance(instance, Mapping) and instance.get("state") == "open":
            return ConnectResult(already_connected=True, raw=data)
        image = data.get("base64")
        # {"count": 0}: Baileys has no QR yet (#1541, #2385); poll again or wait for the webhook.
        qr = QrCode.from_image(image, payload=str(data.get("code") or "")) if image else None
        return ConnectResult(qr=qr, pairing_code=str(data.get("pairingCode") or ""), raw=data)

    def _state(self, state: Any, raw: Any = None) -> ConnectionState:
        """A normalized state from an Evolution state string."""
        value = state if isinstance(state, str) else None
        mapping = evolution_connection_state(value)
        return ConnectionState(mapping.status, mapping.reason, value or "", raw=raw)

    def _webhook_settings(self, data: Mapping[str, Any]) -> WebhookSettings:
        """Read a webhook row, wrapped in `webhook` or not."""
        wrapped = data.get("webhook")
        row: Mapping[str, Any] = wrapped if isinstance(wrapped, Mapping) else data
        headers: Mapping[str, Any] = row.get("headers") or {}
        if not isinstance(headers, Mapping):
            headers = {}
        events = tuple(str(event) for event in row.get("events") or ())
        by_events = row.get("byEvents", row.get("webhookByEvents"))
        return WebhookSettings(
            url=str(row.get("url") or ""),
            enabled=bool(row.get("enabled")),
            secret=str(headers.get(WEBHOOK_SECRET_HEADER) or ""),
            events=events,
            # An empty list means every event (reference 1.4).
            complete=not by_events and (not events or set(WEBHOOK_EVENTS) <= set(events)),
            raw=mask_secrets(data),
        )

    def _recipient(self, to: str) -> str:
        """Digits with country code, or a full JID as given."""
        return to if "@" in to else digits_only(to)

    def _add_common(self, body: dict[str, Any], delay_ms: int, quoted_id: str) -> None:
        """Optional `delay` and `quoted` fields."""
        if delay_ms > 0:
            body["delay"] = delay_ms
        if quoted_id:
            body["quoted"] = {"key": {"id": quoted_id}}

    def _send(
        self, ref: InstanceRef, route: str, body: dict[str, Any], delay_ms: int
    ) -> SendResult:
        """Post a send; Evolution blocks `delay` ms first, so the read timeout grows by it (R9)."""
        data = self._call(
            "POST",
            route + self._seg(ref),
            self._auth(ref),
            json=body,
            read_timeout=self.config.read_timeout + max(delay_ms, 0) / 1000,
        )
        key = data.get("key") if isinstance(data, Mapping) else None
        message_id = str((key or {}).get("id") or "")
        if not message_id:
            raise ProviderOperationFailedError(
                "send answered without key.id", provider=self.name, body=data
            )
        return SendResult(message_id, evolution_message_status(data.get("status")).status, raw=data)

    def _listed(self, row: Mapping[str, Any]) -> ProviderInstance:
        """One fetchInstances row; `connectionStatus` is a persisted copy and may be stale."""
        ref = InstanceRef(str(row.get("name") or ""), token=str(row.get("token") or ""))
        phone = str(row.get("number") or digits_only(str(row.get("ownerJid") or "").split("@")[0]))
        return ProviderInstance(
            ref=ref,
            state=self._state(row.get("connectionStatus")),
            phone=phone,
            profile_name=str(row.get("profileName") or ""),
            raw=mask_secrets(row),
        )


def js_time(moment: datetime) -> str:
    """An ISO time JavaScript's Date parses everywhere: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
