"""Exactly once: a send whose answer was lost is found by its echo or the provider's history.

The worker's death mid-call is a Crash raised after (or before) the real sandbox send; the
provider's history is the sandbox's answer to Evolution's chat/findMessages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from http.client import RemoteDisconnected
from typing import Any

import pytest
import requests
from django.utils import timezone
from urllib3.exceptions import ProtocolError

from instances.models import Number
from messaging import inflight, lanes, recording, sending
from messaging.models import Message, SendAttempt, SendLane, SentEcho
from messaging.services import record_sent_echo
from providers.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    ProviderTransientError,
)
from providers.events import MessageSent

from .fixtures import Crash, make_due, send, sent_at_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def die_mid_call(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the next provider call die: after the provider performed it, or before."""

    def arm(*, performed: bool = True) -> None:
        call = sending.call_provider

        def dying(message: Message) -> Any:
            monkeypatch.setattr(sending, "call_provider", call)
            if performed:
                call(message)
            raise Crash

        monkeypatch.setattr(sending, "call_provider", dying)

    return arm


@pytest.fixture
def history(sandbox: Any) -> None:
    """The provider keeps a history of what it sent (the sandbox answers chat/findMessages)."""
    sandbox.settings(evolution_save_messages=True)


def crash(message: Message) -> None:
    """Run the lane into the crash, then let its lease run out (the worker is gone)."""
    with pytest.raises(Crash):
        lanes.run(message.number_id)
    SendLane.objects.filter(pk=message.number_id).update(leased_until=timezone.now())


def echo(number: Any, message: Message, provider_message_id: str) -> None:
    """The provider's send echo of this message, as the webhook brings it."""
    record_sent_echo(
        number,
        MessageSent(
            provider="evolution",
            instance=number.instance_name,
            raw={},
            message_id=provider_message_id,
            chat_id=f"{message.recipient}@s.whatsapp.net",
            fingerprint=inflight.fingerprint_of(message),
        ),
    )


def test_a_send_whose_worker_died_is_found_by_its_echo_and_not_sent_again(
    linked: Number, queue: Callable[..., Message], sandbox: Any, die_mid_call: Any
) -> None:
    message = queue("Your code is 1234")
    die_mid_call()
    crash(message)
    message.refresh_from_db()
    assert message.status == "queued" and message.in_flight_since is not None
    [at_provider] = sent_at_provider(sandbox)
    echo(linked, message, at_provider["id"])
    assert send(message) == "sent"
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", at_provider["id"])
    assert message.in_flight_since is None and message.attempts == 1
    assert list(message.send_attempts.values_list("outcome", "resolved_by")) == [("sent", "echo")]
    assert len(sent_at_provider(sandbox)) == 1


def test_a_send_whose_worker_died_is_found_in_the_history_when_the_echo_is_lost(
    linked: Number, queue: Callable[..., Message], sandbox: Any, die_mid_call: Any, history: None
) -> None:
    message = queue("Your code is 1234")
    die_mid_call()
    crash(message)
    assert send(message) == "sent"
    message.refresh_from_db()
    assert message.provider_message_id == sent_at_provider(sandbox)[0]["id"]
    assert message.send_attempts.get().resolved_by == "history"
    assert len(sent_at_provider(sandbox)) == 1


def test_a_send_the_provider_has_no_record_of_is_sent_again_after_the_grace_period(
    linked: Number,
    queue: Callable[..., Message],
    sandbox: Any,
    die_mid_call: Any,
    history: None,
    settings: Any,
) -> None:
    message = queue("Your code is 1234")
    die_mid_call(performed=False)
    crash(message)
    assert send(message) == "waiting"
    message.refresh_from_db()
    attempt = message.send_attempts.get()
    grace = timedelta(seconds=settings.SEND_IN_FLIGHT_GRACE_SECONDS)
    assert message.next_attempt_at == attempt.started_at + grace
    assert sent_at_provider(sandbox) == []
    SendAttempt.objects.filter(pk=attempt.pk).update(started_at=attempt.started_at - grace)
    make_due(message)
    assert send(message) == "sent"
    message.refresh_from_db()
    assert message.attempts == 2 and len(sent_at_provider(sandbox)) == 1
    assert list(message.send_attempts.values_list("outcome", flat=True)) == ["unconfirmed", "sent"]


def test_a_greenapi_send_is_looked_for_two_minutes_before_it_is_sent_again(
    linked_green: Number,
    queue: Callable[..., Message],
    sandbox: Any,
    die_mid_call: Any,
    settings: Any,
) -> None:
    # GreenAPI: a send can take up to 2 min to show in lastOutgoingMessages.
    settings.SEND_IN_FLIGHT_GRACE_SECONDS = 30
    message = queue("Your code is 1234", number=linked_green)
    die_mid_call(performed=False)
    crash(message)
    attempt = SendAttempt.objects.get(message=message)
    SendAttempt.objects.filter(pk=attempt.pk).update(
        started_at=attempt.started_at - timedelta(seconds=60)
    )
    assert send(message) == "waiting"
    message.refresh_from_db()
    assert message.next_attempt_at == attempt.started_at + timedelta(seconds=60)
    SendAttempt.objects.filter(pk=attempt.pk).update(
        started_at=attempt.started_at - timedelta(seconds=121)
    )
    make_due(message)
    assert send(message) == "sent"
    assert len(sent_at_provider(sandbox)) == 1


def test_a_later_message_of_the_chat_waits_while_an_earlier_one_is_unresolved(
    linked: Number, queue: Callable[..., Message], sandbox: Any, die_mid_call: Any
) -> None:
    first = queue("one", to="5511900000001")
    die_mid_call(performed=False)
    crash(first)
    second = queue("two", to="5511900000001")
    other = queue("elsewhere", to="5511900000002")
    run = lanes.run(linked.pk)
    assert run.outcomes == {str(first.pk): "waiting", str(other.pk): "sent"}
    assert str(second.pk) not in run.outcomes


def test_an_echo_arriving_for_a_waiting_message_resolves_it_at_once(
    linked: Number,
    queue: Callable[..., Message],
    sandbox: Any,
    die_mid_call: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox.settings(evolution_save_messages=False)  # the history has nothing
    message = queue("Your code is 1234")
    die_mid_call()
    crash(message)
    assert send(message) == "waiting"  # the echo is late
    woken: list[str] = []
    monkeypatch.setattr("messaging.wakeup.wake", lambda number_id, *a, **k: woken.append(number_id))
    with django_capture_on_commit_callbacks(execute=True):
        echo(linked, message, sent_at_provider(sandbox)[0]["id"])
    assert woken == [linked.pk]
    assert send(message) == "sent" and len(sent_at_provider(sandbox)) == 1


def test_an_echo_already_attributed_to_another_message_never_matches(
    linked: Number, queue: Callable[..., Message], sandbox: Any, die_mid_call: Any
) -> None:
    earlier = queue("Same text", to="5511900000001")
    assert send(earlier) == "sent"
    earlier.refresh_from_db()
    # Its echo was stored before its answer was recorded (the webhook won the race).
    SentEcho.objects.create(
        number=linked,
        provider_message_id=earlier.provider_message_id,
        chat="5511900000001",
        fingerprint=inflight.fingerprint_of(earlier),
        received_at=timezone.now(),
    )
    later = queue("Same text", to="5511900000001")
    die_mid_call(performed=False)
    crash(later)
    assert send(later) == "waiting"
    later.refresh_from_db()
    assert later.status == "queued" and later.provider_message_id == ""


def test_an_echo_that_could_belong_to_two_unresolved_messages_resolves_neither(
    linked: Number, queue: Callable[..., Message], sandbox: Any
) -> None:
    one, two = queue("Same text", to="5511900000001"), queue("Same text", to="5511900000001")
    SendLane.objects.create(number=linked)
    lease = lanes.LANES.claim() or pytest.fail("lane not claimable")
    for message in (one, two):
        recording.start(lease, message, inflight.fingerprint_of(message))
    echo(linked, one, "3EB0ONLYONE")
    lease.finish()
    for message in (one, two):
        message.refresh_from_db()
        attempt = inflight.in_flight(message)
        assert attempt is not None and inflight.from_echo(linked, message, attempt) == ""


def test_a_timeout_after_the_provider_sent_is_resolved_without_a_second_send(
    linked: Number,
    queue: Callable[..., Message],
    sandbox: Any,
    history: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call = sending.call_provider

    def timed_out(message: Message) -> Any:
        monkeypatch.setattr(sending, "call_provider", call)
        call(message)
        try:
            raise requests.ReadTimeout("read timed out")
        except requests.ReadTimeout as exc:
            raise ProviderTimeoutError("timed out: ReadTimeout", provider="evolution") from exc

    monkeypatch.setattr(sending, "call_provider", timed_out)
    message = queue("Your code is 1234")
    assert send(message) == "retry"
    message.refresh_from_db()
    assert message.in_flight_since is not None
    make_due(message)
    assert send(message) == "sent" and len(sent_at_provider(sandbox)) == 1
    message.refresh_from_db()
    assert message.send_attempts.get().resolved_by == "history"


def wrapped(error: type[ProviderError], cause: Exception) -> ProviderError:
    """A gateway error raised from a transport error, as providers/http.py raises it."""
    try:
        raise cause
    except Exception as exc:
        try:
            raise error("failed", provider="evolution") from exc
        except ProviderError as wrapped:
            return wrapped


def test_only_errors_that_may_hide_a_performed_send_leave_the_attempt_in_flight() -> None:
    try:
        requests.post("http://127.0.0.1:1/message/sendText/x", timeout=2)
    except requests.ConnectionError as exc:
        refused = exc
    assert not sending.maybe_sent(wrapped(ProviderConnectionError, refused))
    assert not sending.maybe_sent(wrapped(ProviderTimeoutError, requests.ConnectTimeout()))
    assert not sending.maybe_sent(ProviderTransientError("HTTP 503", status=503))
    assert sending.maybe_sent(wrapped(ProviderTimeoutError, requests.ReadTimeout()))
    dropped = requests.ConnectionError(
        ProtocolError(
            "Connection aborted.",
            RemoteDisconnected("Remote end closed connection without response"),
        )
    )
    assert sending.maybe_sent(wrapped(ProviderConnectionError, dropped))


def test_an_audio_sent_with_a_caption_is_found_in_the_history_that_shows_no_caption(
    linked: Number, queue: Callable[..., Message], sandbox: Any, die_mid_call: Any, history: None
) -> None:
    # WhatsApp audio carries no caption: the provider's history shows the audio without ours.
    message = queue(
        "", type="audio", media_url="https://cdn.example.com/note.ogg", caption="Listen to this"
    )
    die_mid_call()
    crash(message)
    assert send(message) == "sent"
    message.refresh_from_db()
    assert message.send_attempts.get().resolved_by == "history"
    assert len(sent_at_provider(sandbox)) == 1
