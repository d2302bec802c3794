"""find_sent against the live sandbox over HTTP, the crash window of a send included.

A send whose answer is lost (the connection closes, or the answer never comes in time) was still
carried out: the provider echoes it and keeps it, and find_sent must find it with the fingerprint
of what we sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings

from providers.base import body_fingerprint
from providers.errors import (
    ProviderAuthenticationError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotFoundError,
    ProviderTimeoutError,
)
from providers.evolution import EvolutionGateway
from providers.evolution_messages import message_fingerprint
from providers.greenapi import GreenApiGateway
from providers.greenapi_messages import notification_fingerprint
from providers.types import (
    InstanceRef,
    MediaKind,
    MediaMessage,
    ProviderConfig,
    TextMessage,
    WebhookConfig,
)
from sandbox.testing import SandboxServer, WebhookReceiver

CUSTOMER = "5511912345678"
OTHER = "5511955554444"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """Our webhook endpoint on loopback."""
    with WebhookReceiver() as hooks:
        yield hooks


def gateway_config(sandbox: SandboxServer, namespace: str, **overrides: Any) -> ProviderConfig:
    """A config on the sandbox with this test's breaker namespace."""
    return ProviderConfig(
        base_url=sandbox.base_url,
        api_key=sandbox.sandbox.config.evolution_api_key,
        breaker_namespace=namespace,
        redis_url=settings.REDIS_URL,
        **overrides,
    )


@pytest.fixture
def evolution(sandbox: SandboxServer, breaker_namespace: str) -> EvolutionGateway:
    """An Evolution gateway whose reads give up after 1 s (a hung answer fails fast)."""
    return EvolutionGateway(gateway_config(sandbox, breaker_namespace, read_timeout=1.0))


@pytest.fixture
def greenapi(sandbox: SandboxServer, breaker_namespace: str) -> GreenApiGateway:
    """A GreenAPI gateway on the sandbox."""
    return GreenApiGateway(gateway_config(sandbox, breaker_namespace, read_timeout=1.0))


@pytest.fixture
def evo_ref(
    evolution: EvolutionGateway, sandbox: SandboxServer, receiver: WebhookReceiver
) -> InstanceRef:
    """A linked Evolution instance whose webhook (every event we subscribe) is the receiver."""
    ref = evolution.create_instance(InstanceRef("acme-lanes"), WebhookConfig(receiver.url)).ref
    evolution.connect(ref)
    sandbox.scan("evolution", "acme-lanes", phone="5511987654321")
    return ref


@pytest.fixture
def green_ref(
    greenapi: GreenApiGateway, sandbox: SandboxServer, receiver: WebhookReceiver
) -> InstanceRef:
    """An authorized GreenAPI instance whose notifications go to the receiver."""
    made = sandbox.create_greenapi_instance()
    ref = InstanceRef(
        str(made["idInstance"]), token=made["apiTokenInstance"], api_url=made["apiUrl"]
    )
    greenapi.set_webhook(ref, WebhookConfig(receiver.url))
    sandbox.scan("greenapi", ref.external_id, phone="5511987654321")
    return ref


def a_moment_ago() -> datetime:
    """Where a lane starts looking: just before the attempt it lost track of."""
    return datetime.now(UTC) - timedelta(seconds=2)


def test_evolution_finds_its_sends_to_the_recipient_with_their_fingerprints(
    evolution: EvolutionGateway, evo_ref: InstanceRef
) -> None:
    since = a_moment_ago()
    text = evolution.send_text(evo_ref, TextMessage(to=f"+{CUSTOMER}", text="Hello"))
    image = evolution.send_media(
        evo_ref,
        MediaMessage(
            to=CUSTOMER, url="https://cdn.example.com/a.png", kind=MediaKind.IMAGE, caption="Look"
        ),
    )
    evolution.send_text(evo_ref, TextMessage(to=OTHER, text="Hello"))
    found = {r.provider_message_id: r for r in evolution.find_sent(evo_ref, CUSTOMER, since)}
    assert set(found) == {text.provider_message_id, image.provider_message_id}
    assert found[text.provider_message_id].fingerprint == body_fingerprint("text", "Hello")
    assert found[image.provider_message_id].fingerprint == body_fingerprint("image", "Look")
    assert {r.to for r in found.values()} == {CUSTOMER}
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert evolution.find_sent(evo_ref, CUSTOMER, later) == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [("drop_response_rate", ProviderConnectionError), ("hang_response_rate", ProviderTimeoutError)],
)
def test_evolution_send_whose_answer_is_lost_is_found_by_echo_and_by_history(
    evolution: EvolutionGateway,
    evo_ref: InstanceRef,
    sandbox: SandboxServer,
    receiver: WebhookReceiver,
    fault: str,
    error: type[ProviderError],
) -> None:
    since = a_moment_ago()
    sandbox.faults(**{fault: 1}, hang_seconds=2, path_contains="/message/send", count=1)
    with pytest.raises(error) as caught:
        evolution.send_text(evo_ref, TextMessage(to=CUSTOMER, text="Your order shipped"))
    assert caught.value.retryable  # to the lane it looks like any transient failure
    echo = receiver.wait_for_event("send.message")[0].body["data"]
    [record] = evolution.find_sent(evo_ref, CUSTOMER, since)
    assert record.provider_message_id == echo["key"]["id"]
    assert record.fingerprint == message_fingerprint(echo)
    assert record.fingerprint == body_fingerprint("text", "Your order shipped")


def test_evolution_without_saved_messages_has_no_history_but_still_echoes(
    evolution: EvolutionGateway,
    evo_ref: InstanceRef,
    sandbox: SandboxServer,
    receiver: WebhookReceiver,
) -> None:
    """DATABASE_SAVE_DATA_NEW_MESSAGE=false: findMessages is empty (reference, corrections)."""
    sandbox.settings(evolution_save_messages=False)
    since = a_moment_ago()
    sent = evolution.send_text(evo_ref, TextMessage(to=CUSTOMER, text="Hello"))
    assert evolution.find_sent(evo_ref, CUSTOMER, since) == []
    echo = receiver.wait_for_event("send.message")[0].body["data"]
    assert echo["key"]["id"] == sent.provider_message_id


def test_evolution_find_sent_of_an_unknown_instance_is_not_found(
    evolution: EvolutionGateway,
) -> None:
    with pytest.raises(ProviderNotFoundError):
        evolution.find_sent(InstanceRef("acme-gone", token="t"), CUSTOMER, a_moment_ago())


def test_greenapi_finds_its_api_sends_to_the_recipient(
    greenapi: GreenApiGateway, green_ref: InstanceRef
) -> None:
    since = a_moment_ago()
    text = greenapi.send_text(green_ref, TextMessage(to=CUSTOMER, text="Hello"))
    document = greenapi.send_media(
        green_ref,
        MediaMessage(
            to=CUSTOMER,
            url="https://cdn.example.com/r.pdf",
            kind=MediaKind.DOCUMENT,
            caption="Invoice",
        ),
    )
    greenapi.send_text(green_ref, TextMessage(to=OTHER, text="Hello"))
    found = {r.provider_message_id: r for r in greenapi.find_sent(green_ref, CUSTOMER, since)}
    assert set(found) == {text.provider_message_id, document.provider_message_id}
    assert found[text.provider_message_id].fingerprint == body_fingerprint("text", "Hello")
    assert found[document.provider_message_id].fingerprint == body_fingerprint(
        "document", "Invoice"
    )


def test_greenapi_send_whose_answer_is_lost_is_found_by_echo_and_by_history(
    greenapi: GreenApiGateway,
    green_ref: InstanceRef,
    sandbox: SandboxServer,
    receiver: WebhookReceiver,
) -> None:
    since = a_moment_ago()
    sandbox.faults(drop_response_rate=1, path_contains="/sendMessage/", count=1)
    with pytest.raises(ProviderConnectionError):
        greenapi.send_text(green_ref, TextMessage(to=CUSTOMER, text="Your order shipped"))
    echo = receiver.wait_for_event("outgoingAPIMessageReceived")[0].body
    [record] = greenapi.find_sent(green_ref, CUSTOMER, since)
    assert record.provider_message_id == echo["idMessage"]
    assert record.fingerprint == notification_fingerprint(echo["messageData"])
    assert record.fingerprint == body_fingerprint("text", "Your order shipped")


def test_greenapi_history_lags_behind_the_echo(
    greenapi: GreenApiGateway,
    green_ref: InstanceRef,
    sandbox: SandboxServer,
    receiver: WebhookReceiver,
) -> None:
    """GreenAPI's journal can show a send up to 2 minutes late; the echo is the quick way."""
    sandbox.settings(greenapi_journal_delay=120)
    sent = greenapi.send_text(green_ref, TextMessage(to=CUSTOMER, text="Hello"))
    assert greenapi.find_sent(green_ref, CUSTOMER, a_moment_ago()) == []
    echo = receiver.wait_for_event("outgoingAPIMessageReceived")[0].body
    assert echo["idMessage"] == sent.provider_message_id


def test_greenapi_find_sent_with_a_wrong_token_is_refused(
    greenapi: GreenApiGateway, green_ref: InstanceRef
) -> None:
    wrong = InstanceRef(green_ref.external_id, token="not-the-token", api_url=green_ref.api_url)
    with pytest.raises(ProviderAuthenticationError):
        greenapi.find_sent(wrong, CUSTOMER, a_moment_ago())


def test_what_we_expect_to_see_is_what_each_provider_shows_for_every_kind(
    evolution: EvolutionGateway,
    greenapi: GreenApiGateway,
    evo_ref: InstanceRef,
    green_ref: InstanceRef,
    receiver: WebhookReceiver,
) -> None:
    """sent_fingerprint predicts the echo: audio loses its caption, GreenAPI types by extension."""
    messages: list[TextMessage | MediaMessage] = [
        TextMessage(to=CUSTOMER, text="  Hello "),
        *(
            MediaMessage(to=CUSTOMER, url=f"https://cdn.example.com/{name}", kind=kind, caption="c")
            for name, kind in [
                ("a.png", MediaKind.IMAGE),
                ("a.mp4", MediaKind.VIDEO),
                ("a.mp3", MediaKind.AUDIO),
                ("a.pdf", MediaKind.DOCUMENT),
                ("photo.jpg", MediaKind.DOCUMENT),  # GreenAPI sends this one as an image
            ]
        ),
    ]
    for message in messages:
        if isinstance(message, TextMessage):
            evolution.send_text(evo_ref, message)
            greenapi.send_text(green_ref, message)
        else:
            evolution.send_media(evo_ref, message)
            greenapi.send_media(green_ref, message)
    evolution_echoes = receiver.wait_for_event("send.message", len(messages))
    green_echoes = receiver.wait_for_event("outgoingAPIMessageReceived", len(messages))
    shown = [message_fingerprint(echo.body["data"]) for echo in evolution_echoes]
    assert shown == [evolution.sent_fingerprint(message) for message in messages]
    shown = [notification_fingerprint(echo.body["messageData"]) for echo in green_echoes]
    assert shown == [greenapi.sent_fingerprint(message) for message in messages]
    assert greenapi.sent_fingerprint(messages[-1]) == body_fingerprint("image", "c")
    assert evolution.sent_fingerprint(messages[3]) == body_fingerprint("audio", "")
