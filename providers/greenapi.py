"""GreenAPI gateway; every method and quirk is in provider-contracts.md section 2."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from providers.base import (
    ProviderGateway,
    digits_only,
    jid_digits,
    media_file_name,
    sent_since,
)
from providers.errors import (
    ProviderError,
    ProviderInvalidRequestError,
    ProviderNotFoundError,
    ProviderNotSupportedError,
    ProviderOperationFailedError,
    ProviderProtocolError,
)
from providers.greenapi_messages import file_kind, history_record
from providers.greenapi_states import (
    greenapi_connection_state,
)
from providers.http import HttpResponse, status_error
from providers.masking import mask_secrets
from providers.media import UrlGuard, download, unsupported
from providers.types import (
    ConnectionState,
    ConnectResult,
    CreatedInstance,
    CredentialField,
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

# Notification switches we consume; all settings are "no" after instance creation (reference 2.2).
NOTIFICATION_SWITCHES = (
    "incomingWebhook",
    "outgoingWebhook",
    "outgoingMessageWebhook",
    "outgoingAPIMessageWebhook",
    "stateWebhook",
    # Edits and deletions arrive as message notifications of type editedMessage / deletedMessage.
    "editedMessageWebhook",
    "deletedMessageWebhook",
    "incomingCallWebhook",
)


class GreenApiGateway(ProviderGateway):
    """GreenAPI: `{apiUrl}/waInstance{id}/{method}/{token}`; instances come from its console."""

    name = "greenapi"
    provisions_instances = False
    # sendMessage answers once the message is in GreenAPI's queue; `sent` says it left (ref 2.3).
    queues_sends = True
    # A send can take up to 2 min to show in lastOutgoingMessages (GreenAPI's documentation).
    history_delay_seconds = 120.0
    # Instances are made in GreenAPI's console; a number is added with their id and token.
    credentials = (
        CredentialField(
            "greenapi_id_instance", "GreenAPI idInstance", "external_id", pattern=r"\d{1,20}"
        ),
        CredentialField("greenapi_api_token", "GreenAPI apiTokenInstance", "token", secret=True),
        CredentialField(
            "greenapi_api_url", "GreenAPI apiUrl", "api_url", required=False, is_url=True
        ),
    )

    def classify(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError | None:
        """HTTP status errors, plus the Partner API's HTTP 200 `{code, description}` errors."""
        if 200 <= status < 300:
            code = body.get("code") if isinstance(body, Mapping) else None
            if isinstance(code, int) and code >= 400 and "description" in body:
                return status_error(
                    self.name, code, body, headers, message=str(body["description"])
                )
            return None
        return status_error(self.name, status, body, headers, message=_error_message(body))

    def create_instance(self, ref: InstanceRef, webhook: WebhookConfig) -> CreatedInstance:
        """Check the console-made instance's credentials, then point its webhook at us."""
        state = self.get_state(ref)
        self.set_webhook(ref, webhook)
        return CreatedInstance(ref=ref, state=state, adopted=True, raw=state.raw)

    def connect(self, ref: InstanceRef, *, pairing_number: str = "") -> ConnectResult:
        """`qr`, or `getAuthorizationCode` for a pairing code (instance must be notAuthorized)."""
        if pairing_number:
            return self._pairing_code(ref, pairing_number)
        data = self._call(ref, "GET", "qr")
        kind = data.get("type") if isinstance(data, Mapping) else None
        if kind == "qrCode":
            return ConnectResult(qr=QrCode.from_image(str(data.get("message") or "")), raw=data)
        if kind == "alreadyLogged":
            return ConnectResult(already_connected=True, raw=data)
        if kind == "error":
            raise ProviderOperationFailedError(
                str(data.get("message") or "qr error"), provider=self.name, body=data
            )
        return ConnectResult(raw=data)

    def get_state(self, ref: InstanceRef) -> ConnectionState:
        """getStateInstance."""
        data = self._call(ref, "GET", "getStateInstance")
        value = data.get("stateInstance") if isinstance(data, Mapping) else None
        mapping = greenapi_connection_state(value)
        return ConnectionState(mapping.status, mapping.reason, str(value or ""), raw=data)

    def logout(self, ref: InstanceRef) -> None:
        """logout, expecting `isLogout: true`."""
        self._expect(self._call(ref, "GET", "logout"), "isLogout")

    def delete_instance(self, ref: InstanceRef) -> None:
        """Release the instance: stop its webhooks and unlink WhatsApp; the console owns it."""
        self._save_settings(ref, {"webhookUrl": "", "webhookUrlToken": ""})
        self._call(ref, "GET", "logout")

    def restart(self, ref: InstanceRef) -> None:
        """reboot, expecting `isReboot: true` (the field name is unverified, reference 2.2)."""
        self._expect(self._call(ref, "GET", "reboot"), "isReboot")

    def set_webhook(self, ref: InstanceRef, webhook: WebhookConfig) -> WebhookSettings:
        """setSettings; it reboots the instance and applies within 5 min, so never loop it (R14)."""
        body = {
            "webhookUrl": webhook.url,
            "webhookUrlToken": webhook.secret,
            **{switch: "yes" for switch in NOTIFICATION_SWITCHES},
        }
        data = self._save_settings(ref, body)
        return WebhookSettings(
            url=webhook.url,
            enabled=bool(webhook.url),
            secret=webhook.secret,
            events=NOTIFICATION_SWITCHES,
            raw=data,
        )

    def get_webhook(self, ref: InstanceRef) -> WebhookSettings | None:
        """getSettings; None when no webhook URL is set."""
        data = self._call(ref, "GET", "getSettings")
        if not isinstance(data, Mapping) or not data.get("webhookUrl"):
            return None
        return WebhookSettings(
            url=str(data["webhookUrl"]),
            enabled=True,
            secret=str(data.get("webhookUrlToken") or ""),
            events=tuple(key for key in NOTIFICATION_SWITCHES if data.get(key) == "yes"),
            complete=all(data.get(key) == "yes" for key in NOTIFICATION_SWITCHES),
            raw=mask_secrets(data),
        )

    def send_text(self, ref: InstanceRef, message: TextMessage) -> SendResult:
        """sendMessage; GreenAPI queues it even while unauthorized (reference 2.3)."""
        body: dict[str, Any] = {
            "chatId": self._chat_id(message.to),
            "message": message.text,
            "linkPreview": message.link_preview,
        }
        if message.quoted_id:
            body["quotedMessageId"] = message.quoted_id
        return self._sent(self._call(ref, "POST", "sendMessage", json=body))

    def send_media(self, ref: InstanceRef, message: MediaMessage) -> SendResult:
        """sendFileByUrl; the file type comes from the file name's extension (reference 2.3)."""
        body: dict[str, Any] = {
            "chatId": self._chat_id(message.to),
            "urlFile": message.url,
            "fileName": media_file_name(message),
        }
        if message.caption:
            body["caption"] = message.caption
        if message.quoted_id:
            body["quotedMessageId"] = message.quoted_id
        return self._sent(self._call(ref, "POST", "sendFileByUrl", json=body))

    def find_sent(self, ref: InstanceRef, to: str, since: datetime) -> list[SentRecord]:
        """lastOutgoingMessages?minutes=N; a send can take up to 2 min to show there (GreenAPI)."""
        digits = jid_digits(to)
        # Whole minutes back to `since`, plus one for the clock difference between us and GreenAPI.
        minutes = max(1, math.ceil((datetime.now(UTC) - since).total_seconds() / 60) + 1)
        data = self._call(ref, "GET", "lastOutgoingMessages", params={"minutes": str(minutes)})
        if not isinstance(data, list):
            raise ProviderProtocolError(
                "lastOutgoingMessages answered without a list", provider=self.name, body=data
            )
        records = [history_record(item) for item in data if isinstance(item, Mapping)]
        return [r for r in records if r and r.to == digits and sent_since(r.sent_at, since)]

    def sent_fingerprint(self, message: TextMessage | MediaMessage) -> str:
        """As the base, with the kind GreenAPI gives a file by its name (a .jpg document: image)."""
        if isinstance(message, MediaMessage):
            message = replace(message, kind=file_kind(media_file_name(message)))
        return super().sent_fingerprint(message)

    def download_media(
        self, ref: InstanceRef, source: Mapping[str, Any], *, max_bytes: int, guard: UrlGuard
    ) -> MediaContent:
        """GET the notification's `fileMessageData.downloadUrl` (Corrections and additions).

        A URL outside GreenAPI's own hosts passes the address guard first: the notification
        names it, and we must never fetch our own network on anyone's word.
        """
        url = source.get("downloadUrl")
        if not isinstance(url, str) or not url:
            raise unsupported(self.name)
        if not self._own_host(ref, url):
            guard(url)
        return download(url, max_bytes, self.config, provider=self.name)

    def _own_host(self, ref: InstanceRef, url: str) -> bool:
        """Whether `url` is on the instance's API host or its media twin (7105.media.…)."""
        api_host = (urlsplit(ref.api_url or self.config.base_url).hostname or "").lower()
        host = (urlsplit(url).hostname or "").lower()
        return bool(host) and host in {api_host, api_host.replace(".api.", ".media.", 1)}

    def get_instance(self, ref: InstanceRef) -> ProviderInstance | None:
        """The phone from getSettings `wid`; it carries no profile name or state (ref 2.2)."""
        try:
            data = self._call(ref, "GET", "getSettings")
        except ProviderNotFoundError:
            return None
        wid = str(data.get("wid") or "") if isinstance(data, Mapping) else ""
        return ProviderInstance(
            ref=ref, phone=digits_only(wid.split("@")[0]), raw=mask_secrets(data)
        )

    def list_instances(self) -> list[ProviderInstance]:
        """Partner API getInstances; needs the partner token as the config's api_key."""
        token = self.config.api_key
        if not token:
            raise ProviderNotSupportedError(
                "listing GreenAPI instances needs a partner token", provider=self.name
            )
        rows = self.http.call(
            "GET", self.config.base_url, f"/partner/getInstances/{token}", secrets=(token,)
        )
        return [
            self._listed(row)
            for row in rows or []
            if isinstance(row, Mapping) and not row.get("deleted")
        ]

    def health(self, ref: InstanceRef | None = None) -> HealthStatus:
        """getStateInstance of `ref`, or any answer from the API host; the breaker is bypassed."""
        if ref is None:
            return self.probe(
                lambda: self.http.request("GET", self.config.base_url, "/", use_breaker=False),
                lambda body: "",
            )
        return self.probe(
            lambda: self._request(ref, "GET", "getStateInstance", use_breaker=False),
            lambda body: "",
        )

    def _request(
        self,
        ref: InstanceRef,
        method: str,
        api_method: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        use_breaker: bool = True,
    ) -> HttpResponse:
        """One call to `{apiUrl}/waInstance{id}/{method}/{token}`; the token never reaches a log."""
        if not ref.external_id.isdigit():
            raise ProviderInvalidRequestError(
                f"GreenAPI idInstance must be digits, got {ref.external_id!r}", provider=self.name
            )
        path = f"/waInstance{ref.external_id}/{api_method}/{ref.token}"
        return self.http.request(
            method,
            ref.api_url or self.config.base_url,
            path,
            json=json,
            params=params,
            secrets=(ref.token,),
            use_breaker=use_breaker,
        )

    def _call(self, ref: InstanceRef, method: str, api_method: str, **options: Any) -> Any:
        """The parsed body of one instance call (`options` as `_request` takes them)."""
        return self._request(ref, method, api_method, **options).body

    def _pairing_code(self, ref: InstanceRef, number: str) -> ConnectResult:
        """getAuthorizationCode takes the number as an integer without `+` (reference 2.2)."""
        digits = digits_only(number)
        if not digits:
            raise ProviderInvalidRequestError(f"no digits in {number!r}", provider=self.name)
        data = self._call(ref, "POST", "getAuthorizationCode", json={"phoneNumber": int(digits)})
        self._expect(data, "status")
        return ConnectResult(pairing_code=str(data.get("code") or ""), raw=data)

    def _save_settings(self, ref: InstanceRef, body: Mapping[str, Any]) -> Any:
        """setSettings, expecting `saveSettings: true`."""
        data = self._call(ref, "POST", "setSettings", json=dict(body))
        self._expect(data, "saveSettings")
        return data

    def _expect(self, data: Any, flag: str) -> None:
        """Raise unless the body's boolean `flag` is true."""
        if not (isinstance(data, Mapping) and data.get(flag) is True):
            raise ProviderOperationFailedError(f"{flag} is not true", provider=self.name, body=data)

    def _chat_id(self, to: str) -> str:
        """`79001234567@c.us` from digits; a full chat id is kept."""
        return to if "@" in to else f"{digits_only(to)}@c.us"

    def _sent(self, data: Any) -> SendResult:
        """SendResult from `{"idMessage": ...}`; GreenAPI queues first, so the status is queued."""
        message_id = data.get("idMessage") if isinstance(data, Mapping) else None
        if not message_id:
            raise ProviderOperationFailedError(
                "send answered without idMessage", provider=self.name, body=data
            )
        return SendResult(str(message_id), raw=data)

    def _listed(self, row: Mapping[str, Any]) -> ProviderInstance:
        """One getInstances row; its token is kept on the ref and masked in raw."""
        ref = InstanceRef(
            str(row.get("idInstance") or ""), token=str(row.get("apiTokenInstance") or "")
        )
        return ProviderInstance(ref=ref, raw=mask_secrets(row))


def _error_message(body: Any) -> str:
    """A readable message from a GreenAPI error body (text, JSON message, or 466 quota body)."""
    if isinstance(body, Mapping):
        quotas = [
            body[key]
            for key in ("invokeStatus", "correspondentsStatus")
            if isinstance(body.get(key), Mapping)
        ]
        if quotas:
            return "; ".join(
                f"{q.get('method')} quota {q.get('used')}/{q.get('total')} ({q.get('status')})"
                for q in quotas
            )
        for key in ("message", "description", "error"):
            if body.get(key):
                return str(body[key])
        return ""
    return str(body or "").strip()[:300]
