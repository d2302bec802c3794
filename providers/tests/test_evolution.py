"""EvolutionGateway: the shared contract, then every method against recorded responses."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
import requests
import responses
from django.conf import settings
from responses import matchers

from providers.errors import (
    InstanceUnavailableError,
    ProviderAuthenticationError,
    ProviderInvalidRequestError,
    ProviderNotFoundError,
    ProviderOperationFailedError,
    ProviderTransientError,
    RecipientNotOnWhatsAppError,
)
from providers.events import ConnectionStatus, MessageStatus, StateReason
from providers.evolution import WEBHOOK_EVENTS, EvolutionGateway
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

BASE = "http://evolution.test"
GLOBAL_KEY = "global-key-0123456789"
TOKEN = "5A793D2C-EF7A-4AC5-86AE-5DE05F1CCC22"
NAME = "acme-3f9c1a2b"
REF = InstanceRef(NAME, token=TOKEN)
WEBHOOK = WebhookConfig(
    "https://saas.example.com/webhooks/evolution/wh-token-123/", secret="per-instance-secret"
)
WEBHOOK_BODY = {
    "url": WEBHOOK.url,
    "byEvents": False,
    "base64": False,
    "headers": {"X-Webhook-Token": "per-instance-secret"},
    "events": list(WEBHOOK_EVENTS),
}


def fixture(name: str) -> Any:
    """A recorded Evolution response body."""
    return load_fixture("evolution", name)


def sent_json(call: Any) -> Any:
    """The JSON body of a recorded call."""
    return json.loads(call.request.body)


class TestEvolutionContract(ResponsesTransport, GatewayContract):
    gateway_class = EvolutionGateway
    ERROR_BODY_CASES: ClassVar[list[ErrorCase]] = [
        ErrorCase(
            "string_401",
            401,
            fixture("error__unauthorized"),
            ProviderAuthenticationError,
            "Unauthorized",
            False,
        ),
        ErrorCase(
            "flat_list_400",
            400,
            fixture("message_sendText__text_required"),
            ProviderInvalidRequestError,
            "Text is required",
            False,
        ),
        ErrorCase(
            "nested_list_400",
            400,
            fixture("error__nested_validation"),
            ProviderInvalidRequestError,
            'instance requires property "webhook"',
            False,
        ),
        ErrorCase(
            "list_of_objects_400",
            400,
            fixture("message_sendText__not_on_whatsapp"),
            RecipientNotOnWhatsAppError,
            "5511777777777 is not on WhatsApp",
            False,
        ),
        ErrorCase(
            "unknown_instance_404",
            404,
            fixture("instance_connectionState__unknown_instance"),
            ProviderNotFoundError,
            'The "acme-3f9c1a2b" instance does not exist',
            False,
        ),
        ErrorCase(
            "unknown_route_404",
            404,
            fixture("error__unknown_route"),
            ProviderNotFoundError,
            "Cannot GET /foo",
            False,
        ),
        ErrorCase(
            "name_in_use_403",
            403,
            fixture("instance_create__already_in_use"),
            ProviderAuthenticationError,
            "is already in use",
            False,
        ),
        ErrorCase(
            "connection_closed_500",
            500,
            fixture("message_sendText__connection_closed"),
            InstanceUnavailableError,
            "Error: Connection Closed",
            True,
        ),
        ErrorCase(
            "error_true_opaque_200",
            200,
            fixture("instance_connect__error"),
            ProviderOperationFailedError,
            "no usable error message",
            False,
        ),
        ErrorCase(
            "error_true_message_200",
            200,
            {"error": True, "message": "Instance closed"},
            ProviderOperationFailedError,
            "Instance closed",
            False,
        ),
        ErrorCase(
            "html_502",
            502,
            "<html><body>502 Bad Gateway</body></html>",
            ProviderTransientError,
            "502 Bad Gateway",
            True,
        ),
    ]

    def make_config(self, **overrides: Any) -> ProviderConfig:
        return ProviderConfig(base_url=BASE, api_key=GLOBAL_KEY, **overrides)

    def make_ref(self) -> InstanceRef:
        return REF

    def probe_ok_body(self) -> Any:
        return fixture("instance_connectionState__open")

    def probe_route(self) -> tuple[str, str]:
        return "GET", f"{BASE}/instance/connectionState/{NAME}"

    def assert_authenticated(self, request: Any, ref: InstanceRef) -> None:
        assert request.headers["apikey"] == ref.token


@pytest.fixture
def gateway(breaker_namespace: str) -> EvolutionGateway:
    return EvolutionGateway(
        ProviderConfig(
            base_url=BASE,
            api_key=GLOBAL_KEY,
            read_timeout=30.0,
            breaker_namespace=breaker_namespace,
            redis_url=settings.REDIS_URL,
        )
    )


def test_create_posts_a_baileys_instance_with_our_webhook_using_the_global_key(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{BASE}/instance/create", json=fixture("instance_create__ok"), status=201)
    created = gateway.create_instance(InstanceRef(NAME), WEBHOOK)
    call = rsps.calls[0]
    assert call.request.headers["apikey"] == GLOBAL_KEY
    assert sent_json(call) == {
        "instanceName": NAME,
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": False,
        "webhook": WEBHOOK_BODY,
    }
    assert created.ref == InstanceRef(NAME, token=TOKEN) and not created.adopted
    assert created.state.status is ConnectionStatus.DISCONNECTED
    assert created.raw["hash"] == "****"


def test_create_sends_our_own_token_when_the_number_has_one(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{BASE}/instance/create", json=fixture("instance_create__ok"), status=201)
    gateway.create_instance(InstanceRef(NAME, token="own-token"), WEBHOOK)
    assert sent_json(rsps.calls[0])["token"] == "own-token"
    assert rsps.calls[0].request.headers["apikey"] == GLOBAL_KEY


def test_create_adopts_the_instance_when_its_name_is_already_in_use(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        f"{BASE}/instance/create", json=fixture("instance_create__already_in_use"), status=403
    )
    rsps.get(
        f"{BASE}/instance/fetchInstances",
        json=fixture("instance_fetchInstances__ok")[:1],
        match=[
            matchers.query_param_matcher({"instanceName": NAME}),
            matchers.header_matcher({"apikey": GLOBAL_KEY}),
        ],
    )
    rsps.post(
        f"{BASE}/webhook/set/{NAME}",
        json=fixture("webhook_set__ok"),
        status=201,
        match=[matchers.header_matcher({"apikey": TOKEN})],
    )
    created = gateway.create_instance(InstanceRef(NAME), WEBHOOK)
    assert created.adopted and created.ref == InstanceRef(NAME, token=TOKEN)
    assert created.state.status is ConnectionStatus.CONNECTED
    assert sent_json(rsps.calls[2]) == {"webhook": {"enabled": True, **WEBHOOK_BODY}}
    assert created.raw["token"] == "****"


def test_instance_calls_refuse_to_fall_back_to_the_global_key(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    with pytest.raises(ProviderAuthenticationError, match="has no token"):
        gateway.get_state(InstanceRef(NAME))
    assert len(rsps.calls) == 0


def test_create_refuses_a_name_that_is_not_url_safe(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    with pytest.raises(ProviderInvalidRequestError):
        gateway.create_instance(InstanceRef("acme/../x y"), WEBHOOK)
    assert len(rsps.calls) == 0


def test_create_with_a_rejected_body_is_an_invalid_request(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        f"{BASE}/instance/create", json=fixture("instance_create__invalid_integration"), status=400
    )
    with pytest.raises(ProviderInvalidRequestError, match="Invalid integration"):
        gateway.create_instance(InstanceRef(NAME), WEBHOOK)


def test_connect_returns_the_qr_as_a_png_data_url(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    body = fixture("instance_connect__qr")
    rsps.get(
        f"{BASE}/instance/connect/{NAME}",
        json=body,
        match=[matchers.query_param_matcher({}), matchers.header_matcher({"apikey": TOKEN})],
    )
    result = gateway.connect(REF)
    assert result.qr is not None and result.qr.data_url == body["base64"]
    assert result.qr.data_url.startswith("data:image/png;base64,iVBOR")
    assert result.qr.payload == body["code"] and result.pairing_code == ""


def test_connect_with_a_number_asks_for_a_pairing_code(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{BASE}/instance/connect/{NAME}",
        json=fixture("instance_connect__pairing_code"),
        match=[matchers.query_param_matcher({"number": "5511999999999"})],
    )
    assert gateway.connect(REF, pairing_number="+55 11 99999-9999").pairing_code == "WZYEH1YY"


@pytest.mark.parametrize(
    ("variant", "connected", "has_qr"),
    [("open", True, False), ("no_qr_yet", False, False), ("qr", False, True)],
)
def test_connect_reads_every_answer_shape(
    gateway: EvolutionGateway,
    rsps: responses.RequestsMock,
    variant: str,
    connected: bool,
    has_qr: bool,
) -> None:
    rsps.get(f"{BASE}/instance/connect/{NAME}", json=fixture(f"instance_connect__{variant}"))
    result = gateway.connect(REF)
    assert result.already_connected is connected and (result.qr is not None) is has_qr


def test_connect_error_answered_with_200_raises(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/instance/connect/{NAME}", json=fixture("instance_connect__error"))
    with pytest.raises(ProviderOperationFailedError) as caught:
        gateway.connect(REF)
    assert caught.value.status == 200 and not caught.value.retryable


@pytest.mark.parametrize(
    ("variant", "status", "reason"),
    [
        ("open", ConnectionStatus.CONNECTED, StateReason.NONE),
        ("connecting", ConnectionStatus.CONNECTING, StateReason.NONE),
        ("close", ConnectionStatus.DISCONNECTED, StateReason.NONE),
        ("not_loaded", ConnectionStatus.DISCONNECTED, StateReason.NOT_LOADED),
    ],
)
def test_get_state_reads_the_live_connection_state(
    gateway: EvolutionGateway,
    rsps: responses.RequestsMock,
    variant: str,
    status: ConnectionStatus,
    reason: StateReason,
) -> None:
    rsps.get(
        f"{BASE}/instance/connectionState/{NAME}",
        json=fixture(f"instance_connectionState__{variant}"),
        match=[matchers.header_matcher({"apikey": TOKEN})],
    )
    state = gateway.get_state(REF)
    assert (state.status, state.reason) == (status, reason)
    assert state.provider_state == ("" if variant == "not_loaded" else variant)


def test_logout_is_a_delete_with_the_instance_token(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.delete(
        f"{BASE}/instance/logout/{NAME}",
        json=fixture("instance_logout__ok"),
        match=[matchers.header_matcher({"apikey": TOKEN})],
    )
    gateway.logout(REF)
    assert rsps.calls[0].request.method == "DELETE"


def test_delete_is_a_delete_with_the_global_key(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.delete(
        f"{BASE}/instance/delete/{NAME}",
        json=fixture("instance_delete__ok"),
        match=[matchers.header_matcher({"apikey": GLOBAL_KEY})],
    )
    gateway.delete_instance(REF)
    assert rsps.calls[0].request.method == "DELETE"


def test_restart_is_a_post(gateway: EvolutionGateway, rsps: responses.RequestsMock) -> None:
    rsps.post(
        f"{BASE}/instance/restart/{NAME}",
        json=fixture("instance_restart__qr"),
        match=[matchers.header_matcher({"apikey": TOKEN})],
    )
    gateway.restart(REF)
    assert rsps.calls[0].request.method == "POST"


def test_restart_of_a_closed_instance_fails_despite_http_200(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{BASE}/instance/restart/{NAME}", json=fixture("instance_restart__closed"))
    with pytest.raises(ProviderOperationFailedError):
        gateway.restart(REF)


def test_set_webhook_posts_enabled_events_and_secret_header(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        f"{BASE}/webhook/set/{NAME}",
        json=fixture("webhook_set__ok"),
        status=201,
        match=[matchers.header_matcher({"apikey": TOKEN})],
    )
    settings_ = gateway.set_webhook(REF, WEBHOOK)
    assert sent_json(rsps.calls[0]) == {"webhook": {"enabled": True, **WEBHOOK_BODY}}
    assert settings_.matches(WEBHOOK) and settings_.events == WEBHOOK_EVENTS


def test_get_webhook_reads_the_stored_row(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{BASE}/webhook/find/{NAME}",
        json=fixture("webhook_find__in_sync"),
        match=[matchers.header_matcher({"apikey": TOKEN})],
    )
    found = gateway.get_webhook(REF)
    assert found is not None and found.matches(WEBHOOK)
    assert found.events == WEBHOOK_EVENTS and found.secret == "per-instance-secret"
    assert not found.matches(WebhookConfig(WEBHOOK.url, secret="rotated"))
    assert not found.matches(WebhookConfig(WEBHOOK.url + "x/", secret=WEBHOOK.secret))


@pytest.mark.parametrize(
    ("change", "in_sync"),
    [
        ({}, False),
        ({"events": list(WEBHOOK_EVENTS)}, True),
        ({"events": []}, True),
        ({"events": list(WEBHOOK_EVENTS), "webhookByEvents": True}, False),
        ({"events": list(WEBHOOK_EVENTS), "enabled": False}, False),
    ],
)
def test_webhook_drift_is_detected(
    gateway: EvolutionGateway, rsps: responses.RequestsMock, change: dict[str, Any], in_sync: bool
) -> None:
    rsps.get(
        f"{BASE}/webhook/find/{NAME}", json={**fixture("webhook_find__missing_events"), **change}
    )
    found = gateway.get_webhook(REF)
    assert found is not None and found.matches(WEBHOOK) is in_sync


def test_get_webhook_is_none_when_nothing_is_set(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/webhook/find/{NAME}", json=fixture("webhook_find__none"))
    assert gateway.get_webhook(REF) is None


def test_send_text_posts_the_message_and_waits_out_the_delay(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        f"{BASE}/message/sendText/{NAME}",
        json=fixture("message_sendText__ok"),
        status=201,
        match=[matchers.header_matcher({"apikey": TOKEN})],
    )
    message = TextMessage(
        to="+55 11 88888-8888", text="Hello", quoted_id="3EB0AAA", delay_ms=1200, link_preview=False
    )
    result = gateway.send_text(REF, message)
    assert sent_json(rsps.calls[0]) == {
        "number": "5511888888888",
        "text": "Hello",
        "linkPreview": False,
        "delay": 1200,
        "quoted": {"key": {"id": "3EB0AAA"}},
    }
    timeout = rsps.calls[0].request.req_kwargs["timeout"]  # type: ignore[attr-defined]
    assert timeout == (5.0, 31.2)
    assert result.provider_message_id == "3EB08EE80DB4E276AFE85B"
    assert result.status is MessageStatus.QUEUED


def test_send_text_keeps_a_full_jid(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{BASE}/message/sendText/{NAME}", json=fixture("message_sendText__ok"), status=201)
    gateway.send_text(REF, TextMessage(to="120363025246125486@g.us", text="Hi"))
    assert sent_json(rsps.calls[0]) == {
        "number": "120363025246125486@g.us",
        "text": "Hi",
        "linkPreview": True,
    }


def test_send_text_to_a_number_without_whatsapp_fails_for_good(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        f"{BASE}/message/sendText/{NAME}",
        status=400,
        json=fixture("message_sendText__not_on_whatsapp"),
    )
    with pytest.raises(RecipientNotOnWhatsAppError) as caught:
        gateway.send_text(REF, TextMessage(to="5511777777777", text="Hi"))
    assert caught.value.number == "5511777777777" and not caught.value.retryable


def test_send_on_a_closed_socket_is_transient_but_spares_the_breaker(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        f"{BASE}/message/sendText/{NAME}",
        status=500,
        json=fixture("message_sendText__connection_closed"),
    )
    for _ in range(6):
        with pytest.raises(InstanceUnavailableError) as caught:
            gateway.send_text(REF, TextMessage(to="5511888888888", text="Hi"))
        assert caught.value.retryable
    assert len(rsps.calls) == 6 and gateway.http.breaker(BASE).state == "closed"


def test_send_media_posts_the_url_and_its_metadata(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        f"{BASE}/message/sendMedia/{NAME}",
        json=fixture("message_sendMedia__ok"),
        status=201,
        match=[matchers.header_matcher({"apikey": TOKEN})],
    )
    message = MediaMessage(
        to="5511888888888",
        url="https://cdn.example.com/i/invoice.png",
        kind=MediaKind.IMAGE,
        caption="Invoice",
        mime_type="image/png",
    )
    result = gateway.send_media(REF, message)
    assert sent_json(rsps.calls[0]) == {
        "number": "5511888888888",
        "mediatype": "image",
        "media": message.url,
        "fileName": "invoice.png",
        "mimetype": "image/png",
        "caption": "Invoice",
    }
    assert result.provider_message_id == "3EB0A1B2C3D4E5F6A7B8C9"


@pytest.mark.parametrize("kind", list(MediaKind))
def test_send_media_sends_every_kind(
    gateway: EvolutionGateway, rsps: responses.RequestsMock, kind: MediaKind
) -> None:
    rsps.post(f"{BASE}/message/sendMedia/{NAME}", json=fixture("message_sendMedia__ok"), status=201)
    gateway.send_media(
        REF, MediaMessage(to="5511888888888", url="https://cdn.example.com/f/1", kind=kind)
    )
    assert sent_json(rsps.calls[0])["mediatype"] == kind.value


def test_list_instances_uses_the_global_key_and_hides_tokens(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{BASE}/instance/fetchInstances",
        json=fixture("instance_fetchInstances__ok"),
        match=[matchers.header_matcher({"apikey": GLOBAL_KEY})],
    )
    listed = gateway.list_instances()
    assert [item.ref.external_id for item in listed] == [NAME, "globex-9a8b7c6d"]
    assert listed[0].ref.token == TOKEN and listed[0].raw["token"] == "****"
    assert listed[0].phone == "5511999999999" and listed[0].profile_name == "Acme"
    assert [item.state.status for item in listed if item.state] == [
        ConnectionStatus.CONNECTED,
        ConnectionStatus.DISCONNECTED,
    ]
    assert TOKEN not in repr(listed)


def test_health_reports_version_and_response_time(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/", json=fixture("root__ok"))
    health = gateway.health()
    assert health.reachable and health.version == "2.3.6" and health.response_ms >= 0


def test_health_never_raises_and_bypasses_an_open_breaker(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/", body=requests.ConnectionError("refused"))
    gateway.http.breaker(BASE)._circuit().open()
    health = gateway.health()
    assert not health.reachable and "connection" in health.detail
    assert len(rsps.calls) == 1


def test_health_counts_an_auth_failure_as_reachable(
    gateway: EvolutionGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/", status=401, json=fixture("error__unauthorized"))
    health = gateway.health()
    assert health.reachable and "Unauthorized" in health.detail


def test_new_instance_names_are_url_safe_and_unique(gateway: EvolutionGateway) -> None:
    names = {gateway.new_instance_name("Acme Café / Sales #1") for _ in range(50)}
    assert len(names) == 50
    assert all(name.startswith("acme-caf-sales-1-") for name in names)
    assert all(len(name) <= 64 and name.replace("-", "").isalnum() for name in names)
