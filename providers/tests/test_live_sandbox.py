"""The gateway contract of both providers, run unchanged against the live sandbox over HTTP.

Each class runs the recorded error bodies of its `responses` twin (served verbatim through a
fault), then the bodies the sandbox writes itself for each status.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import requests
from django.conf import settings

from providers.errors import (
    InstanceUnavailableError,
    ProviderAuthenticationError,
    ProviderError,
    ProviderInvalidRequestError,
    ProviderNotFoundError,
    ProviderOperationFailedError,
    ProviderQuotaExceededError,
    ProviderRateLimitedError,
    ProviderTransientError,
    RecipientNotOnWhatsAppError,
)
from providers.events import ConnectionStatus, MessageStatus
from providers.evolution import EvolutionGateway
from providers.greenapi import GreenApiGateway
from providers.tests.gateway_contract import ErrorCase, GatewayContract
from providers.tests.sandbox_transport import (
    PROBE_READ_TIMEOUT,
    SandboxTransport,
    wait_until,
)
from providers.tests.support import SentRequest, load_fixture
from providers.tests.test_evolution import TestEvolutionContract as EvolutionRecorded
from providers.tests.test_greenapi import TestGreenApiContract as GreenApiRecorded
from providers.types import (
    ConnectResult,
    InstanceRef,
    MediaKind,
    MediaMessage,
    ProviderConfig,
    ProviderInstance,
    TextMessage,
    WebhookConfig,
)
from sandbox.testing import SandboxServer, WebhookReceiver

EVO_NAME = "acme-3f9c1a2b"
EVO_TOKEN = "5A793D2C-EF7A-4AC5-86AE-5DE05F1CCC22"
GREEN_ID = 1101000001
GREEN_TOKEN = "f4f28aef69414192bb73b878c4862891b5f0856d17864a8e9c"


def sandbox_case(
    case_id: str, status: int, error: type[ProviderError], message: str, retryable: bool
) -> ErrorCase:
    """An error the sandbox answers with its own body (no `body` given, so none is forced)."""
    return ErrorCase(f"sandbox_{case_id}", status, None, error, message, retryable)


def partner_token(server: SandboxServer) -> str:
    """The running sandbox's GreenAPI partner token."""
    return server.sandbox.config.greenapi_partner_token


class TestEvolutionContractLive(SandboxTransport, GatewayContract):
    gateway_class = EvolutionGateway
    provider = "evolution"
    probe_path = "/instance/connectionState/"
    ERROR_BODY_CASES: ClassVar[list[ErrorCase]] = [
        *EvolutionRecorded.ERROR_BODY_CASES,
        sandbox_case("string_401", 401, ProviderAuthenticationError, "Unauthorized", False),
        sandbox_case(
            "unknown_instance_404",
            404,
            ProviderNotFoundError,
            f'The "{EVO_NAME}" instance does not exist',
            False,
        ),
        sandbox_case("enveloped_400", 400, ProviderInvalidRequestError, "Bad Request", False),
        sandbox_case("enveloped_403", 403, ProviderAuthenticationError, "Forbidden", False),
        sandbox_case("enveloped_422", 422, ProviderInvalidRequestError, "Unprocessable", False),
        sandbox_case(
            "connection_closed_500", 500, InstanceUnavailableError, "Error: Connection Closed", True
        ),
        sandbox_case("enveloped_503", 503, ProviderTransientError, "Service Unavailable", True),
        sandbox_case("enveloped_429", 429, ProviderRateLimitedError, "Too Many Requests", True),
    ]

    def make_config(self, **overrides: Any) -> ProviderConfig:
        return ProviderConfig(
            **{
                "base_url": self.server.base_url,
                "api_key": self.global_key(),
                "read_timeout": PROBE_READ_TIMEOUT,
                **overrides,
            }
        )

    def make_ref(self) -> InstanceRef:
        self.fresh_probe_instance()
        return InstanceRef(EVO_NAME, token=EVO_TOKEN)

    def probe_ok_body(self) -> Any:
        return load_fixture("evolution", "instance_connectionState__close")

    def assert_authenticated(self, request: SentRequest, ref: InstanceRef) -> None:
        assert request.headers["apikey"] == ref.token != self.global_key()

    def probe_token(self) -> str:
        return EVO_TOKEN

    def natural_statuses(self) -> dict[int, Any]:
        return {**super().natural_statuses(), 404: self.delete_probe_instance}

    def global_key(self) -> str:
        """The running sandbox's Evolution global key."""
        return self.server.sandbox.config.evolution_api_key

    def provision(self, token: str) -> None:
        body = {
            "instanceName": EVO_NAME,
            "integration": "WHATSAPP-BAILEYS",
            "token": token,
            "qrcode": False,
        }
        assert self.evolution("POST", "/instance/create", json=body).status_code == 201

    def remove(self) -> None:
        answer = self.evolution("DELETE", f"/instance/delete/{EVO_NAME}")
        assert answer.status_code in (200, 404), answer.text

    def evolution(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A setup call with the global key, outside the gateway (so neither spied nor breaker)."""
        return requests.request(
            method,
            self.server.base_url + path,
            timeout=5,
            headers={"apikey": self.global_key()},
            **kwargs,
        )


class TestGreenApiContractLive(SandboxTransport, GatewayContract):
    gateway_class = GreenApiGateway
    provider = "greenapi"
    probe_path = "/getStateInstance/"
    ERROR_BODY_CASES: ClassVar[list[ErrorCase]] = [
        *GreenApiRecorded.ERROR_BODY_CASES,
        sandbox_case("text_401", 401, ProviderAuthenticationError, "Unauthorized", False),
        sandbox_case("text_400", 400, ProviderInvalidRequestError, "Bad Request", False),
        sandbox_case("text_404", 404, ProviderNotFoundError, "Not Found", False),
        sandbox_case(
            "quota_466", 466, ProviderQuotaExceededError, "checkwhatsapp quota 100/100", False
        ),
        sandbox_case("text_500", 500, ProviderTransientError, "Internal Server Error", True),
        sandbox_case("text_429", 429, ProviderRateLimitedError, "Too Many Requests", True),
    ]

    def make_config(self, **overrides: Any) -> ProviderConfig:
        return ProviderConfig(
            **{
                "base_url": self.server.base_url,
                "api_key": partner_token(self.server),
                "read_timeout": PROBE_READ_TIMEOUT,
                **overrides,
            }
        )

    def make_ref(self) -> InstanceRef:
        self.fresh_probe_instance()
        return InstanceRef(str(GREEN_ID), token=GREEN_TOKEN, api_url=self.server.base_url)

    def probe_ok_body(self) -> Any:
        return load_fixture("greenapi", "getStateInstance__notAuthorized")

    def assert_authenticated(self, request: SentRequest, ref: InstanceRef) -> None:
        assert request.path == f"/waInstance{ref.external_id}/getStateInstance/{ref.token}"
        assert request.url.startswith(ref.api_url)

    def probe_token(self) -> str:
        return GREEN_TOKEN

    def provision(self, token: str) -> None:
        self.server.create_greenapi_instance(idInstance=GREEN_ID, apiTokenInstance=token)

    def remove(self) -> None:
        answer = requests.delete(
            f"{self.server.base_url}/_sandbox/greenapi/instances/{GREEN_ID}", timeout=5
        )
        assert answer.status_code in (200, 404), answer.text


# ---- every gateway method, end to end ---------------------------------------------------------

SECRET = "per-instance-secret"
PHONE = "5511987654321"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """Our webhook endpoint on loopback, so the sandbox never posts anywhere else."""
    with WebhookReceiver() as hooks:
        yield hooks


@pytest.fixture
def webhook(receiver: WebhookReceiver) -> WebhookConfig:
    """This number's webhook: the receiver's URL and a secret."""
    return WebhookConfig(receiver.url, secret=SECRET)


@pytest.fixture
def evolution(sandbox: SandboxServer, breaker_namespace: str) -> EvolutionGateway:
    """An Evolution gateway on the emptied sandbox."""
    return EvolutionGateway(
        ProviderConfig(
            base_url=sandbox.base_url,
            api_key=sandbox.sandbox.config.evolution_api_key,
            breaker_namespace=breaker_namespace,
            redis_url=settings.REDIS_URL,
        )
    )


@pytest.fixture
def greenapi(sandbox: SandboxServer, breaker_namespace: str) -> GreenApiGateway:
    """A GreenAPI gateway on the emptied sandbox."""
    return GreenApiGateway(
        ProviderConfig(
            base_url=sandbox.base_url,
            api_key=partner_token(sandbox),
            breaker_namespace=breaker_namespace,
            redis_url=settings.REDIS_URL,
        )
    )


@pytest.fixture
def green_ref(sandbox: SandboxServer) -> InstanceRef:
    """A GreenAPI instance made in the (simulated) console."""
    made = sandbox.create_greenapi_instance()
    return InstanceRef(
        str(made["idInstance"]), token=made["apiTokenInstance"], api_url=made["apiUrl"]
    )


def assert_png_qr(result: ConnectResult) -> None:
    """The connect result carries a real PNG as a data URL."""
    assert result.qr is not None and not result.already_connected
    prefix = "data:image/png;base64,"
    assert result.qr.data_url.startswith(prefix)
    assert base64.b64decode(result.qr.data_url[len(prefix) :]).startswith(b"\x89PNG\r\n\x1a\n")


def sent_message(sandbox: SandboxServer, message_id: str) -> dict[str, Any]:
    """What the sandbox recorded for a message we sent."""
    return dict(sandbox.control("GET", f"/messages/{message_id}"))


def linked_evolution(
    evolution: EvolutionGateway,
    sandbox: SandboxServer,
    webhook: WebhookConfig,
    name: str = "acme-live",
) -> InstanceRef:
    """An Evolution instance created, connected and scanned."""
    ref = evolution.create_instance(InstanceRef(name), webhook).ref
    evolution.connect(ref)
    sandbox.scan("evolution", name, phone=PHONE, profileName="Acme Sales")
    return ref


def test_evolution_qr_scan_connects_and_get_instance_shows_the_phone(
    evolution: EvolutionGateway,
    sandbox: SandboxServer,
    webhook: WebhookConfig,
    receiver: WebhookReceiver,
) -> None:
    created = evolution.create_instance(InstanceRef("acme-live"), webhook)
    ref = created.ref
    assert ref.token and not created.adopted
    assert created.state.status is ConnectionStatus.DISCONNECTED
    assert_png_qr(evolution.connect(ref))
    assert evolution.get_state(ref).status is ConnectionStatus.CONNECTING
    before = evolution.get_instance(ref)
    assert before is not None and (before.phone, before.profile_name) == ("", "")
    sandbox.scan("evolution", "acme-live", phone=PHONE, profileName="Acme Sales")
    assert evolution.get_state(ref).status is ConnectionStatus.CONNECTED
    found = evolution.get_instance(ref)
    assert found is not None and (found.phone, found.profile_name) == (PHONE, "Acme Sales")
    assert found.state is not None and found.state.status is ConnectionStatus.CONNECTED
    opened = receiver.wait_for(
        lambda got: any(
            r.event == "connection.update" and r.body["data"]["state"] == "open" for r in got
        )
    )
    assert opened[-1].headers["X-Webhook-Token"] == SECRET


def test_evolution_pairing_code_links_the_given_number(
    evolution: EvolutionGateway, sandbox: SandboxServer, webhook: WebhookConfig
) -> None:
    ref = evolution.create_instance(InstanceRef("acme-pair"), webhook).ref
    code = evolution.connect(ref, pairing_number="+55 11 98765-4321").pairing_code
    assert len(code) == 8
    sandbox.scan("evolution", "acme-pair", code=code)
    found = evolution.get_instance(ref)
    assert found is not None and found.phone == PHONE


def test_evolution_create_of_a_name_in_use_adopts_it_and_rewrites_its_webhook(
    evolution: EvolutionGateway, webhook: WebhookConfig
) -> None:
    first = evolution.create_instance(InstanceRef("acme-live"), WebhookConfig(webhook.url))
    again = evolution.create_instance(InstanceRef("acme-live"), webhook)
    assert again.adopted and again.ref == first.ref
    found = evolution.get_webhook(again.ref)
    assert found is not None and found.matches(webhook)


def test_evolution_set_webhook_replaces_what_get_webhook_reads(
    evolution: EvolutionGateway, webhook: WebhookConfig
) -> None:
    ref = evolution.create_instance(InstanceRef("acme-live"), webhook).ref
    moved = WebhookConfig(webhook.url + "/moved", secret="rotated")
    assert evolution.set_webhook(ref, moved).matches(moved)
    found = evolution.get_webhook(ref)
    assert found is not None and found.matches(moved) and not found.matches(webhook)


def test_evolution_sends_text_and_every_media_kind(
    evolution: EvolutionGateway, sandbox: SandboxServer, webhook: WebhookConfig
) -> None:
    ref = linked_evolution(evolution, sandbox, webhook)
    text = evolution.send_text(ref, TextMessage(to="+55 11 91234-5678", text="Hello"))
    assert text.status is MessageStatus.QUEUED
    assert sent_message(sandbox, text.provider_message_id)["text"] == "Hello"
    ids = {text.provider_message_id}
    for kind in MediaKind:
        sent = evolution.send_media(
            ref,
            MediaMessage(
                to="5511912345678", url=f"https://cdn.example.com/f/{kind.value}", kind=kind
            ),
        )
        assert sent_message(sandbox, sent.provider_message_id)["kind"] == f"{kind.value}Message"
        ids.add(sent.provider_message_id)
    assert len(ids) == 1 + len(MediaKind)


def test_evolution_send_failures_are_classified(
    evolution: EvolutionGateway, sandbox: SandboxServer, webhook: WebhookConfig
) -> None:
    ref = evolution.create_instance(InstanceRef("acme-live"), webhook).ref
    with pytest.raises(InstanceUnavailableError):
        evolution.send_text(ref, TextMessage(to="5511912345678", text="too early"))
    evolution.connect(ref)
    sandbox.scan("evolution", "acme-live")
    sandbox.control("POST", "/numbers", {"number": "5511900000000", "onWhatsApp": False})
    with pytest.raises(RecipientNotOnWhatsAppError) as caught:
        evolution.send_text(ref, TextMessage(to="5511900000000", text="Hi"))
    assert caught.value.number == "5511900000000"


def test_evolution_lists_its_instances_with_their_tokens(
    evolution: EvolutionGateway, sandbox: SandboxServer, webhook: WebhookConfig
) -> None:
    linked = linked_evolution(evolution, sandbox, webhook)
    idle = evolution.create_instance(InstanceRef("acme-idle"), webhook).ref
    listed = {item.ref.external_id: item for item in evolution.list_instances()}
    assert set(listed) == {"acme-live", "acme-idle"}
    assert listed["acme-live"].ref == linked and listed["acme-idle"].ref == idle
    assert listed["acme-live"].phone == PHONE and listed["acme-idle"].phone == ""


def test_evolution_restart_logout_and_delete(
    evolution: EvolutionGateway, sandbox: SandboxServer, webhook: WebhookConfig
) -> None:
    ref = linked_evolution(evolution, sandbox, webhook)
    evolution.restart(ref)
    assert evolution.get_state(ref).status is ConnectionStatus.CONNECTED
    evolution.logout(ref)
    # Evolution answers before the logout happens (reference 1.3).
    wait_until(lambda: evolution.get_state(ref).status is ConnectionStatus.DISCONNECTED)
    with pytest.raises(ProviderOperationFailedError):
        evolution.restart(ref)
    evolution.delete_instance(ref)
    with pytest.raises(ProviderNotFoundError):
        evolution.get_state(ref)


def test_evolution_health_reports_the_version(evolution: EvolutionGateway) -> None:
    health = evolution.health()
    assert health.reachable and health.version == "2.3.6" and health.response_ms > 0


def test_greenapi_adopts_a_console_instance_and_scan_shows_the_phone(
    greenapi: GreenApiGateway,
    sandbox: SandboxServer,
    green_ref: InstanceRef,
    webhook: WebhookConfig,
    receiver: WebhookReceiver,
) -> None:
    created = greenapi.create_instance(green_ref, webhook)
    assert created.adopted and created.state.status is ConnectionStatus.DISCONNECTED
    found_hook = greenapi.get_webhook(green_ref)
    assert found_hook is not None and found_hook.matches(webhook)
    assert_png_qr(greenapi.connect(green_ref))
    assert greenapi.get_instance(green_ref) == ProviderInstance(green_ref, phone="")
    sandbox.scan("greenapi", green_ref.external_id, phone=PHONE)
    assert greenapi.get_state(green_ref).status is ConnectionStatus.CONNECTED
    found = greenapi.get_instance(green_ref)
    assert found is not None and found.phone == PHONE
    changed = receiver.wait_for_event("stateInstanceChanged")
    assert changed[-1].headers["Authorization"] == f"Bearer {SECRET}"
    assert greenapi.connect(green_ref).already_connected


def test_greenapi_pairing_code_links_the_number(
    greenapi: GreenApiGateway, sandbox: SandboxServer, green_ref: InstanceRef
) -> None:
    code = greenapi.connect(green_ref, pairing_number="+55 11 98765-4321").pairing_code
    assert len(code) == 8
    sandbox.scan("greenapi", green_ref.external_id, code=code, phone=PHONE)
    assert greenapi.get_state(green_ref).status is ConnectionStatus.CONNECTED


def test_greenapi_set_webhook_replaces_what_get_webhook_reads(
    greenapi: GreenApiGateway, green_ref: InstanceRef, webhook: WebhookConfig
) -> None:
    assert greenapi.get_webhook(green_ref) is None
    assert greenapi.set_webhook(green_ref, webhook).matches(webhook)
    found = greenapi.get_webhook(green_ref)
    assert found is not None and found.matches(webhook) and found.complete


def test_greenapi_sends_text_and_media(
    greenapi: GreenApiGateway, sandbox: SandboxServer, green_ref: InstanceRef
) -> None:
    sandbox.scan("greenapi", green_ref.external_id, phone=PHONE)
    text = greenapi.send_text(green_ref, TextMessage(to="+55 11 91234-5678", text="Hello"))
    assert sent_message(sandbox, text.provider_message_id)["chat"] == "5511912345678@c.us"
    media = greenapi.send_media(
        green_ref,
        MediaMessage(
            to="5511912345678",
            url="https://cdn.example.com/f/report",
            kind=MediaKind.DOCUMENT,
            mime_type="application/pdf",
        ),
    )
    assert sent_message(sandbox, media.provider_message_id)["kind"] == "document"
    assert text.provider_message_id != media.provider_message_id


def test_greenapi_restart_logout_and_release(
    greenapi: GreenApiGateway,
    sandbox: SandboxServer,
    green_ref: InstanceRef,
    webhook: WebhookConfig,
) -> None:
    sandbox.settings(greenapi_reboot_seconds=0.3)
    greenapi.create_instance(green_ref, webhook)
    sandbox.scan("greenapi", green_ref.external_id, phone=PHONE)
    greenapi.restart(green_ref)
    assert greenapi.get_state(green_ref).status is ConnectionStatus.CONNECTING
    wait_until(lambda: greenapi.get_state(green_ref).status is ConnectionStatus.CONNECTED)
    greenapi.logout(green_ref)
    assert greenapi.get_state(green_ref).status is ConnectionStatus.DISCONNECTED
    assert greenapi.get_instance(green_ref) == ProviderInstance(green_ref, phone="")
    greenapi.delete_instance(green_ref)
    assert greenapi.get_webhook(green_ref) is None


def test_greenapi_health_of_the_host_and_of_an_instance(
    greenapi: GreenApiGateway, green_ref: InstanceRef
) -> None:
    assert greenapi.health().reachable
    assert greenapi.health(green_ref).reachable


def test_greenapi_lists_console_instances_through_the_partner_api(
    greenapi: GreenApiGateway, green_ref: InstanceRef
) -> None:
    listed = greenapi.list_instances()
    expected = InstanceRef(green_ref.external_id, token=green_ref.token)
    assert [item.ref for item in listed] == [expected]
    assert listed[0].raw["apiTokenInstance"] == "****"


def test_greenapi_partner_list_leaves_out_deleted_instances(
    greenapi: GreenApiGateway, sandbox: SandboxServer, green_ref: InstanceRef
) -> None:
    gone = sandbox.create_greenapi_instance()
    sandbox.control("DELETE", f"/greenapi/instances/{gone['idInstance']}")
    assert [item.ref.external_id for item in greenapi.list_instances()] == [green_ref.external_id]


def test_greenapi_partner_list_with_a_wrong_partner_token_is_refused(
    sandbox: SandboxServer, breaker_namespace: str
) -> None:
    gateway = GreenApiGateway(
        ProviderConfig(
            base_url=sandbox.base_url,
            api_key="not-the-partner",
            breaker_namespace=breaker_namespace,
            redis_url=settings.REDIS_URL,
        )
    )
    with pytest.raises(ProviderAuthenticationError):
        gateway.list_instances()
