"""Batched processing: many stored events applied together, each with the outcome it alone gets."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from messaging.models import Contact, Conversation, MediaFile, Message
from webhooks import batch, tasks
from webhooks.models import WebhookEvent
from whatsapp_saas import domain_events as de

pytestmark = pytest.mark.django_db

Store = Callable[[Any, dict[str, Any]], WebhookEvent]


@pytest.fixture
def store(deliver: Any) -> Store:
    """Deliver a payload as the provider would and return the stored (unprocessed) event."""

    def post(number: Any, payload: dict[str, Any]) -> WebhookEvent:
        assert deliver(number, payload).status_code == 200
        return WebhookEvent.objects.filter(number=number).latest("id")

    return post


@pytest.fixture
def upsert(fixture_for: Any, evolution_number: Any) -> Callable[..., dict[str, Any]]:
    """An Evolution `messages.upsert` of a text from a chat, with its own id."""

    def make(message_id: str, *, text: str = "Hi", phone: str = "5511888888888", **key: Any):
        payload = copy.deepcopy(fixture_for(evolution_number, "messages_upsert__text"))
        payload["data"]["key"].update(id=message_id, remoteJid=f"{phone}@s.whatsapp.net", **key)
        payload["data"]["message"] = {"conversation": text}
        return payload

    return make


@pytest.fixture
def announced() -> Iterator[list[de.DomainEvent]]:
    """The domain events announced after commit while the test runs."""
    heard: list[de.DomainEvent] = []

    def listen(sender: Any, events: Any, **kwargs: Any) -> None:
        heard.extend(events)

    de.occurred.connect(listen, weak=False)
    yield heard
    de.occurred.disconnect(listen)


def statuses(*events: WebhookEvent) -> list[str]:
    """The events' statuses now."""
    return [WebhookEvent.objects.get(pk=e.pk).status for e in events]


def test_a_batch_records_every_message_once_with_its_contacts_threads_and_counts(
    store: Store,
    upsert: Any,
    evolution_number: Any,
    fixture_for: Any,
    announced: list[de.DomainEvent],
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = store(evolution_number, upsert("A-1", text="one"))
    second = store(evolution_number, upsert("A-2", text="two"))
    other = store(evolution_number, upsert("B-1", phone="5511777777777"))
    image = store(evolution_number, fixture_for(evolution_number, "messages_upsert__image"))
    with django_capture_on_commit_callbacks(execute=True):
        assert batch.process_batch() == 4
    assert statuses(first, second, other, image) == ["processed"] * 4
    assert Message.objects.count() == 4 and Contact.objects.count() == 2
    thread = Conversation.objects.get(contact__phone="5511888888888")
    assert thread.unread_count == 3 and thread.last_message_at is not None
    assert MediaFile.objects.get().message.provider_message_id != ""
    received = [e.subject.provider_message_id for e in announced if e.type == "message.received"]
    assert sorted(received) == sorted(Message.objects.values_list("provider_message_id", flat=True))


def test_a_batch_run_again_changes_nothing(store: Store, upsert: Any, evolution_number: Any):
    events = [store(evolution_number, upsert(f"A-{i}")) for i in (1, 2)]
    batch.process_batch()
    WebhookEvent.objects.update(status="received")  # an operator's reprocess
    assert batch.process_batch() == 2
    assert statuses(*events) == ["processed"] * 2
    assert Message.objects.count() == 2 and Conversation.objects.get().unread_count == 2


def test_a_batch_with_an_invalid_payload_applies_the_rest(
    store: Store, upsert: Any, evolution_number: Any
) -> None:
    good = store(evolution_number, upsert("A-1"))
    bad = upsert("A-2")
    bad["data"]["key"]["remoteJid"] = ["not", "a", "jid"]
    poisoned = store(evolution_number, bad)
    later = store(evolution_number, upsert("A-3"))
    batch.process_batch()
    assert statuses(good, poisoned, later) == ["processed", "invalid", "processed"]
    assert set(Message.objects.values_list("provider_message_id", flat=True)) == {"A-1", "A-3"}


def test_a_batch_with_an_event_its_normalizer_chokes_on_applies_the_rest(
    store: Store, upsert: Any, evolution_number: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webhooks.normalizers.evolution import EvolutionNormalizer

    normalize = EvolutionNormalizer.normalize

    def choke(self: Any, payload: Any) -> Any:
        if payload["data"]["key"]["id"] == "A-2":
            raise KeyError("surprise")
        return normalize(self, payload)

    monkeypatch.setattr(EvolutionNormalizer, "normalize", choke)
    events = [store(evolution_number, upsert(f"A-{i}")) for i in (1, 2, 3)]
    batch.process_batch()
    assert statuses(*events) == ["processed", "failed", "processed"]
    failed = WebhookEvent.objects.get(pk=events[1].pk)
    assert "surprise" in failed.error and failed.next_attempt_at is not None
    assert Message.objects.count() == 2


def test_an_event_that_fails_to_apply_fails_alone_and_the_batch_is_applied(
    store: Store, upsert: Any, evolution_number: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from messaging import services

    fields = services.message_fields

    def poisoned(number: Any, conversation: Any, event: Any) -> dict[str, object]:
        if event.message_id == "A-2":
            raise RuntimeError("poisoned event")
        return fields(number, conversation, event)

    monkeypatch.setattr(services, "message_fields", poisoned)
    events = [store(evolution_number, upsert(f"A-{i}")) for i in (1, 2, 3)]
    assert tasks.process_pending() == 3
    assert statuses(*events) == ["processed", "failed", "processed"]
    assert "poisoned event" in WebhookEvent.objects.get(pk=events[1].pk).error
    assert set(Message.objects.values_list("provider_message_id", flat=True)) == {"A-1", "A-3"}
    assert Conversation.objects.get().unread_count == 2


@pytest.mark.parametrize("receipt_first", [True, False], ids=["receipt_first", "message_first"])
def test_a_receipt_and_its_message_in_one_batch_end_at_the_receipts_status(
    store: Store, evolution_number: Any, fixture_for: Any, receipt_first: bool
) -> None:
    message = fixture_for(evolution_number, "messages_upsert__from_me")
    receipt = fixture_for(evolution_number, "messages_update__read")
    receipt["data"]["keyId"] = message["data"]["key"]["id"]
    for payload in [receipt, message] if receipt_first else [message, receipt]:
        store(evolution_number, payload)
    assert batch.process_batch() == 2
    assert WebhookEvent.objects.filter(status="processed").count() == 2
    recorded = Message.objects.get()
    assert (recorded.direction, recorded.status) == ("outbound", "read")
    assert recorded.read_at is not None and recorded.delivered_at is not None


def test_receipts_in_a_batch_never_move_a_status_back(
    store: Store, evolution_number: Any, fixture_for: Any, our_message: Any
) -> None:
    for name in ("messages_update__read", "messages_update__delivery_ack"):
        receipt = fixture_for(evolution_number, name)
        receipt["data"]["keyId"] = our_message.provider_message_id
        store(evolution_number, receipt)
    batch.process_batch()
    our_message.refresh_from_db()
    assert our_message.status == "read"


def test_a_receipt_for_a_message_not_seen_yet_waits_for_it_across_batches(
    store: Store, evolution_number: Any, fixture_for: Any
) -> None:
    message = fixture_for(evolution_number, "messages_upsert__from_me")
    receipt = fixture_for(evolution_number, "messages_update__read")
    receipt["data"]["keyId"] = message["data"]["key"]["id"]
    store(evolution_number, receipt)
    batch.process_batch()
    store(evolution_number, message)
    batch.process_batch()
    assert Message.objects.get().status == "read"


def test_connection_states_in_one_batch_apply_in_provider_time_order(
    store: Store, evolution_number: Any, fixture_for: Any
) -> None:
    evolution_number.status = "qr_pending"
    evolution_number.save()
    opened = fixture_for(evolution_number, "connection_update__open")
    opened["date_time"] = "2025-10-21T11:40:39.000Z"
    closed = fixture_for(evolution_number, "connection_update__close_logged_out")
    closed["date_time"] = "2025-10-21T11:41:00.000Z"
    # Evolution posts concurrently: the later state arrives first.
    store(evolution_number, closed)
    store(evolution_number, opened)
    batch.process_batch()
    evolution_number.refresh_from_db()
    assert evolution_number.status == "logged_out"
    steps = evolution_number.connection_events.order_by("at", "pk")
    assert [e.to_status for e in steps] == ["connected", "logged_out"]


def test_events_of_a_number_being_deleted_are_ignored_in_a_batch(
    store: Store, upsert: Any, evolution_number: Any
) -> None:
    from django.utils import timezone

    event = store(evolution_number, upsert("A-1"))
    evolution_number.deletion_requested_at = timezone.now()
    evolution_number.save()
    batch.process_batch()
    assert statuses(event) == ["ignored"] and not Message.objects.exists()


def snapshot(number: Any) -> dict[str, Any]:
    """What a number's events left behind, as a user would see it (ids and times aside)."""
    from messaging.models import PendingChange, PendingReceipt, SentEcho

    number.refresh_from_db()
    messages = Message.objects.filter(number=number).order_by("provider_message_id")
    contacts = Contact.objects.filter(tenant_id=number.tenant_id).order_by("phone", "jid")
    return {
        "events": list(
            WebhookEvent.objects.filter(number=number).values_list("status", "event_type", "error")
        ),
        "number": (number.status, number.status_reason, number.phone_number, number.qr_code),
        "messages": list(
            messages.values_list(
                "direction",
                "status",
                "type",
                "text",
                "caption",
                "sender",
                "recipient",
                "is_group",
                "reactions",
                "extra",
                "error_code",
            )
        ),
        "contacts": list(contacts.values_list("phone", "lid", "jid", "name", "is_group")),
        "threads": list(
            Conversation.objects.filter(number=number).values_list("unread_count", flat=True)
        ),
        "media": MediaFile.objects.filter(message__number=number).count(),
        "waiting": [
            PendingReceipt.objects.filter(number=number).count(),
            PendingChange.objects.filter(number=number).count(),
            SentEcho.objects.filter(number=number).count(),
        ],
    }


def twin_of(number: Any, tenant: Any) -> Any:
    """The same kind of number in another tenant."""
    from instances.models import Number

    return Number.objects.create(
        tenant=tenant,
        name=number.name,
        provider=number.provider,
        instance_name=f"{number.instance_name}-twin",
        provider_instance_id=str(int(number.provider_instance_id) + 1)
        if number.provider == "greenapi"
        else f"{number.provider_instance_id}-twin",
        status=number.status,
        phone_number=number.phone_number,
    )


@pytest.mark.parametrize("provider", ["evolution", "greenapi"])
def test_every_recorded_payload_leaves_the_same_state_batched_as_alone(
    provider: str, request: pytest.FixtureRequest, deliver: Any, other_tenant: Any
) -> None:
    from webhooks.fixtures import addressed_to, fixture_names, load_fixture

    alone = request.getfixturevalue(f"{provider}_number")
    together = twin_of(alone, other_tenant)
    for name in fixture_names(provider):
        assert deliver(alone, addressed_to(alone, load_fixture(provider, name))).status_code == 200
        event = WebhookEvent.objects.filter(number=alone).latest("id")
        with contextlib.suppress(Exception):  # a failure is kept on the event, compared below
            tasks.process_webhook_event(event.pk)
    for name in fixture_names(provider):
        payload = addressed_to(together, load_fixture(provider, name))
        assert deliver(together, payload).status_code == 200
    while batch.process_batch():
        pass
    assert snapshot(together) == snapshot(alone)


def test_a_batch_that_falls_back_to_one_by_one_applies_its_connection_state_once(
    store: Store,
    evolution_number: Any,
    fixture_for: Any,
    our_message: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from messaging import services

    def poisoned(*args: Any) -> set[str]:
        raise RuntimeError("poisoned receipt")

    # Receipts go last in a batch: the connection state was applied when the batch failed.
    monkeypatch.setattr(services, "advance", poisoned)
    evolution_number.status = "qr_pending"
    evolution_number.save()
    connected = store(evolution_number, fixture_for(evolution_number, "connection_update__open"))
    receipt = fixture_for(evolution_number, "messages_update__read")
    receipt["data"]["keyId"] = our_message.provider_message_id
    read = store(evolution_number, receipt)
    batch.process_batch()
    assert statuses(connected, read) == ["processed", "failed"]
    evolution_number.refresh_from_db()
    assert evolution_number.status == "connected"
    assert evolution_number.connection_events.count() == 1
