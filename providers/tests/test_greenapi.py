"""GreenApiGateway: the shared contract, then every method against recorded responses."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
import requests
import responses
from django.conf import settings

from providers.errors import (
    ProviderAuthenticationError,
    ProviderInvalidRequestError,
    ProviderNotSupportedError,
    ProviderOperationFailedError,
    ProviderQuotaExceededError,
)
from providers.events import ConnectionStatus, MessageStatus, StateReason
from providers.greenapi import NOTIFICATION_SWITCHES, GreenApiGateway
from providers.tests.gateway_contract import ErrorCase, GatewayContract
from providers.tests.support import ResponsesTransport, load_fixture
from providers.types import (
    InstanceRef,
    MediaKind,
    MediaMessage,
    ProviderConfig,
    TextMessage,
    WebhookConfig,
)

BASE = "https://api.green-api.test"
POOL = "https://7105.api.greenapi.test"
ID = "1101000001"
TOKEN = "f4f28aef69414192bb73b878c4862891b5f0856d17864a8e9c"
PARTNER = "partner-token-0123456789"
REF = InstanceRef(ID, token=TOKEN, api_url=POOL)
WEBHOOK = WebhookConfig(
    "https://saas.example.com/webhooks/greenapi/wh-token-456/", secret="per-instance-secret"
)


def fixture(name: str) -> Any:
    """A recorded GreenAPI response body."""
    return load_fixture("greenapi", name)


def url(method: str, ref: InstanceRef = REF) -> str:
    """`{apiUrl}/waInstance{id}/{method}/{token}`."""
    return f"{ref.api_url or BASE}/waInstance{ref.external_id}/{method}/{ref.token}"


def sent_json(call: Any) -> Any:
    """The JSON body of a recorded call."""
    return json.loads(call.request.body)


class TestGreenApiContract(ResponsesTransport, GatewayContract):
    gateway_class = GreenApiGateway
    ERROR_BODY_CASES: ClassVar[list[ErrorCase]] = [
        # Validation errors come as plain text (reference 2.3).
        ErrorCase(
            "validation_text_400",
            400,
            'Validation failed. Details: "chatId" is required',
            ProviderInvalidRequestError,
            "Validation failed",
            False,
        ),
        ErrorCase(
            "quota_466",
            466,
            fixture("error__quota_exceeded"),
            ProviderQuotaExceededError,
            "checkwhatsapp quota 100/100",
            False,
        ),
        ErrorCase(
            "json_message_401",
            401,
            {"message": "Unauthorized"},
            ProviderAuthenticationError,
            "Unauthorized",
            False,
        ),
    ]

    def make_config(self, **overrides: Any) -> ProviderConfig:
        return ProviderConfig(base_url=BASE, api_key=PARTNER, **overrides)

    def make_ref(self) -> InstanceRef:
        return REF

    def probe_ok_body(self) -> Any:
        return fixture("getStateInstance__authorized")

    def probe_route(self) -> tuple[str, str]:
        return "GET", url("getStateInstance")

    def assert_authenticated(self, request: Any, ref: InstanceRef) -> None:
        assert request.path == f"/waInstance{ref.external_id}/getStateInstance/{ref.token}"
        assert request.url.startswith(ref.api_url)


@pytest.fixture
def gateway(breaker_namespace: str) -> GreenApiGateway:
    return GreenApiGateway(
        ProviderConfig(
            base_url=BASE,
            api_key=PARTNER,
            breaker_namespace=breaker_namespace,
            redis_url=settings.REDIS_URL,
        )
    )


def test_create_checks_credentials_then_points_the_webhook_at_us(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("getStateInstance"), json=fixture("getStateInstance__notAuthorized"))
    rsps.post(url("setSettings"), json=fixture("setSettings__ok"))
    created = gateway.create_instance(REF, WEBHOOK)
    assert [call.request.method for call in rsps.calls] == ["GET", "POST"]
    assert sent_json(rsps.calls[1]) == {
        "webhookUrl": WEBHOOK.url,
        "webhookUrlToken": "per-instance-secret",
        "incomingWebhook": "yes",
        "outgoingWebhook": "yes",
        "outgoingMessageWebhook": "yes",
        "outgoingAPIMessageWebhook": "yes",
        "stateWebhook": "yes",
        "editedMessageWebhook": "yes",
        "deletedMessageWebhook": "yes",
        "incomingCallWebhook": "yes",
    }
    assert created.ref == REF and created.adopted
    assert created.state.status is ConnectionStatus.DISCONNECTED


def test_create_with_wrong_credentials_fails_before_touching_settings(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("getStateInstance"), status=401, json={"message": "Unauthorized"})
    with pytest.raises(ProviderAuthenticationError):
        gateway.create_instance(REF, WEBHOOK)
    assert len(rsps.calls) == 1


def test_without_a_pool_host_the_configured_api_url_is_used(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    ref = InstanceRef(ID, token=TOKEN)
    rsps.get(url("getStateInstance", ref), json=fixture("getStateInstance__authorized"))
    assert gateway.get_state(ref).status is ConnectionStatus.CONNECTED
    assert str(rsps.calls[0].request.url).startswith(BASE + "/waInstance")


def test_connect_prefixes_the_bare_base64_qr(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("qr"), json=fixture("qr__qrCode"))
    result = gateway.connect(REF)
    assert result.qr is not None
    assert result.qr.data_url == "data:image/png;base64," + fixture("qr__qrCode")["message"]
    assert not result.already_connected


def test_connect_when_already_logged_in(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("qr"), json=fixture("qr__alreadyLogged"))
    result = gateway.connect(REF)
    assert result.already_connected and result.qr is None


def test_connect_qr_error_raises_with_the_providers_message(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("qr"), json=fixture("qr__error"))
    with pytest.raises(ProviderOperationFailedError, match="You need to make log out"):
        gateway.connect(REF)


def test_connect_with_an_unknown_qr_type_returns_nothing_instead_of_crashing(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("qr"), json={"type": "timeoutExpired", "message": ""})
    result = gateway.connect(REF)
    assert result.qr is None and not result.already_connected and result.raw["type"]


def test_connect_with_a_number_posts_it_as_an_integer(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(url("getAuthorizationCode"), json=fixture("getAuthorizationCode__ok"))
    result = gateway.connect(REF, pairing_number="+44 1234 567890")
    assert sent_json(rsps.calls[0]) == {"phoneNumber": 441234567890}
    assert result.pairing_code == "GAPI2015"


def test_pairing_code_refused_raises(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(url("getAuthorizationCode"), json={"status": False, "code": ""})
    with pytest.raises(ProviderOperationFailedError):
        gateway.connect(REF, pairing_number="441234567890")


@pytest.mark.parametrize(
    ("variant", "status", "reason"),
    [
        ("authorized", ConnectionStatus.CONNECTED, StateReason.NONE),
        ("notAuthorized", ConnectionStatus.DISCONNECTED, StateReason.WAITING_SCAN),
        ("blocked", ConnectionStatus.BANNED, StateReason.BLOCKED),
        ("sleepMode", ConnectionStatus.PAUSED, StateReason.PHONE_OFFLINE),
        ("starting", ConnectionStatus.CONNECTING, StateReason.STARTING),
        ("yellowCard", ConnectionStatus.PAUSED, StateReason.SPAM_SUSPECTED),
    ],
)
def test_get_state_reads_get_state_instance(
    gateway: GreenApiGateway,
    rsps: responses.RequestsMock,
    variant: str,
    status: ConnectionStatus,
    reason: StateReason,
) -> None:
    rsps.get(url("getStateInstance"), json=fixture(f"getStateInstance__{variant}"))
    state = gateway.get_state(REF)
    assert (state.status, state.reason, state.provider_state) == (status, reason, variant)


def test_logout(gateway: GreenApiGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(url("logout"), json=fixture("logout__ok"))
    gateway.logout(REF)
    assert rsps.calls[0].request.url == url("logout")


def test_logout_not_confirmed_raises(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("logout"), json={"isLogout": False})
    with pytest.raises(ProviderOperationFailedError):
        gateway.logout(REF)


def test_restart_reboots(gateway: GreenApiGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(url("reboot"), json=fixture("reboot__ok"))
    gateway.restart(REF)
    assert rsps.calls[0].request.url == url("reboot")


def test_delete_releases_the_instance(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(url("setSettings"), json=fixture("setSettings__ok"))
    rsps.get(url("logout"), json=fixture("logout__ok"))
    gateway.delete_instance(REF)
    assert sent_json(rsps.calls[0]) == {"webhookUrl": "", "webhookUrlToken": ""}
    assert rsps.calls[1].request.url == url("logout")


def test_set_webhook_returns_what_was_saved(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(url("setSettings"), json=fixture("setSettings__ok"))
    saved = gateway.set_webhook(REF, WEBHOOK)
    assert saved.matches(WEBHOOK) and saved.events == NOTIFICATION_SWITCHES


def test_set_webhook_not_saved_raises(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(url("setSettings"), json={"saveSettings": False})
    with pytest.raises(ProviderOperationFailedError):
        gateway.set_webhook(REF, WEBHOOK)


def test_get_webhook_reads_get_settings(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("getSettings"), json=fixture("getSettings__ok"))
    found = gateway.get_webhook(REF)
    assert found is not None and found.matches(WEBHOOK)
    assert found.events == NOTIFICATION_SWITCHES and found.raw["webhookUrlToken"] == "****"


def test_get_webhook_with_a_switch_off_is_drift(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("getSettings"), json={**fixture("getSettings__ok"), "stateWebhook": "no"})
    found = gateway.get_webhook(REF)
    assert found is not None and not found.matches(WEBHOOK)


def test_get_webhook_is_none_without_a_url(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(url("getSettings"), json=fixture("getSettings__no_webhook"))
    assert gateway.get_webhook(REF) is None


def test_send_text_posts_send_message(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(url("sendMessage"), json=fixture("sendMessage__ok"))
    result = gateway.send_text(
        REF, TextMessage(to="+1 100 123 4567", text="Hello", quoted_id="BAE5F4886F6F2D05")
    )
    assert sent_json(rsps.calls[0]) == {
        "chatId": "11001234567@c.us",
        "message": "Hello",
        "linkPreview": True,
        "quotedMessageId": "BAE5F4886F6F2D05",
    }
    assert result.provider_message_id == "3EB0C767D097B7C7C030"
    assert result.status is MessageStatus.QUEUED


def test_send_text_keeps_a_group_chat_id(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(url("sendMessage"), json=fixture("sendMessage__ok"))
    gateway.send_text(REF, TextMessage(to="120363043968066561@g.us", text="Hi"))
    assert sent_json(rsps.calls[0])["chatId"] == "120363043968066561@g.us"


def test_send_media_posts_send_file_by_url(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(url("sendFileByUrl"), json=fixture("sendFileByUrl__ok"))
    message = MediaMessage(
        to="11001234567",
        url="https://cdn.example.com/horse.png",
        kind=MediaKind.IMAGE,
        caption="Horse",
    )
    result = gateway.send_media(REF, message)
    assert sent_json(rsps.calls[0]) == {
        "chatId": "11001234567@c.us",
        "urlFile": message.url,
        "fileName": "horse.png",
        "caption": "Horse",
    }
    assert result.provider_message_id == "3EB0C767D097B7C7C031"


@pytest.mark.parametrize(
    ("kind", "mime_type", "file_name"),
    [
        (MediaKind.DOCUMENT, "application/pdf", "download.pdf"),
        (MediaKind.AUDIO, "", "download.mp3"),
        (MediaKind.VIDEO, "video/mp4", "download.mp4"),
        (MediaKind.IMAGE, "", "download.jpg"),
    ],
)
def test_send_media_gives_the_file_an_extension(
    gateway: GreenApiGateway,
    rsps: responses.RequestsMock,
    kind: MediaKind,
    mime_type: str,
    file_name: str,
) -> None:
    rsps.post(url("sendFileByUrl"), json=fixture("sendFileByUrl__ok"))
    gateway.send_media(
        REF,
        MediaMessage(
            to="11001234567", url="https://cdn.example.com/download", kind=kind, mime_type=mime_type
        ),
    )
    assert sent_json(rsps.calls[0])["fileName"] == file_name


def test_list_instances_uses_the_partner_api_and_skips_deleted(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/partner/getInstances/{PARTNER}", json=fixture("getInstances__ok"))
    listed = gateway.list_instances()
    assert [item.ref for item in listed] == [InstanceRef(ID, token=TOKEN)]
    assert listed[0].raw["apiTokenInstance"] == "****" and listed[0].state is None


def test_list_instances_partner_error_in_a_200_body_raises(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/partner/getInstances/{PARTNER}", json=fixture("getInstances__unauthorized"))
    with pytest.raises(ProviderAuthenticationError):
        gateway.list_instances()


def test_list_instances_without_a_partner_token_is_not_supported(breaker_namespace: str) -> None:
    gateway = GreenApiGateway(
        ProviderConfig(
            base_url=BASE, breaker_namespace=breaker_namespace, redis_url=settings.REDIS_URL
        )
    )
    with pytest.raises(ProviderNotSupportedError):
        gateway.list_instances()


def test_health_of_an_instance(gateway: GreenApiGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(url("getStateInstance"), json=fixture("getStateInstance__authorized"))
    health = gateway.health(REF)
    assert health.reachable and health.response_ms >= 0 and health.version == ""


def test_health_of_the_host_never_raises(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/", body=requests.ConnectTimeout("timed out"))
    health = gateway.health()
    assert not health.reachable and "timed out" in health.detail


def test_a_non_numeric_instance_id_is_refused_without_a_request(
    gateway: GreenApiGateway, rsps: responses.RequestsMock
) -> None:
    with pytest.raises(ProviderInvalidRequestError):
        gateway.get_state(InstanceRef("../partner", token=TOKEN))
    assert len(rsps.calls) == 0
