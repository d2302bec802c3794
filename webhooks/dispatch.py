"""Normalized events → the services that change state: one handler per event type."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.utils import timezone

from instances import services as numbers
from instances.models import ConnectionEvent, Number
from messaging import calls, changes
from messaging import services as messaging
from providers.events import (
    CallReceived,
    ConnectionChanged,
    EventType,
    InstanceRemoved,
    MessageChanged,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    ProviderEvent,
    QrUpdated,
    QuotaExceeded,
)
from providers.types import ConnectionState

WEBHOOK = ConnectionEvent.Source.WEBHOOK


def on_connection(number: Number, event: ConnectionChanged) -> None:
    """A connection state: the numbers' state machine decides what it means."""
    state = ConnectionState(event.status, event.reason, event.provider_state, raw=event.raw)
    numbers.apply_state(
        number,
        state,
        WEBHOOK,
        phone=event.phone,
        profile_name=event.profile_name,
        occurred_at=event.occurred_at,
    )


def on_qr(number: Number, event: QrUpdated) -> None:
    """A fresh QR or pairing code to show."""
    numbers.apply_qr(number, event.qr, event.pairing_code, source=WEBHOOK)


def on_message(number: Number, event: MessageReceived) -> None:
    """An inbound message (or one typed on the business phone)."""
    messaging.record_inbound(number, event)


def on_receipt(number: Number, event: MessageStatusChanged) -> None:
    """A delivery, read or failure receipt."""
    messaging.apply_status(
        number,
        event.message_id,
        event.status,
        reason=event.reason,
        detail=event.detail,
        at=event.occurred_at,
    )


def on_sent(number: Number, event: MessageSent) -> None:
    """The provider's echo of a message we sent."""
    messaging.record_sent_echo(number, event)


def on_change(number: Number, event: MessageChanged) -> None:
    """An edit, deletion or reaction of an earlier message."""
    changes.apply_change(number, event)


def on_call(number: Number, event: CallReceived) -> None:
    """A call, shown in its conversation."""
    calls.record_call(number, event)


def on_removed(number: Number, event: InstanceRemoved) -> None:
    """The provider removed the instance."""
    numbers.mark_removed(number, WEBHOOK)


def on_quota(number: Number, event: QuotaExceeded) -> None:
    """The provider's plan quota is spent."""
    numbers.note_quota_exceeded(number, event.detail, WEBHOOK)


HANDLERS: dict[EventType, Callable[[Number, Any], None]] = {
    EventType.CONNECTION_CHANGED: on_connection,
    EventType.QR_UPDATED: on_qr,
    EventType.MESSAGE_RECEIVED: on_message,
    EventType.MESSAGE_STATUS_CHANGED: on_receipt,
    EventType.MESSAGE_SENT: on_sent,
    EventType.MESSAGE_CHANGED: on_change,
    EventType.CALL_RECEIVED: on_call,
    EventType.INSTANCE_REMOVED: on_removed,
    EventType.QUOTA_EXCEEDED: on_quota,
}


def dispatch(number: Number, events: Iterable[ProviderEvent]) -> bool:
    """One delivery's events, applied as a batch of one; False when none had a handler."""
    pairs = [(number, event) for event in events if handles(event)]
    dispatch_many(pairs)
    return bool(pairs)


def handles(event: ProviderEvent) -> bool:
    """Whether a normalized event has a service to go to."""
    return event.type in HANDLERS


def dispatch_many(events: Sequence[tuple[Number, ProviderEvent]]) -> None:
    """Apply many (number, event) pairs at once, in one transaction of the caller's.

    Messages go in first, in bulk; then the rare kinds one by one in order (connection states
    of a number by provider time), so edits, reactions and echoes find the messages of the same
    batch; receipts last, in bulk, so a receipt ends where it climbs to whatever came first.
    """
    messaging.record_inbound_many([(n, e) for n, e in events if isinstance(e, MessageReceived)])
    rest = [(n, e) for n, e in events if e.type not in BULK and handles(e)]
    for number, event in in_time_order(rest):
        HANDLERS[event.type](number, event)
    messaging.apply_statuses([(n, e) for n, e in events if isinstance(e, MessageStatusChanged)])


BULK = frozenset({EventType.MESSAGE_RECEIVED, EventType.MESSAGE_STATUS_CHANGED})


def in_time_order(
    events: Sequence[tuple[Number, ProviderEvent]],
) -> list[tuple[Number, ProviderEvent]]:
    """The events as given, but connection states and message changes in provider time.

    Each kind keeps its own places in the sequence. A later connection state delivered first
    would otherwise make `apply_state` drop the earlier one (an untimed one stays where it is);
    changes go in the order of those kept for a late message (an untimed one counts as now,
    as changes.apply_change stamps it).
    """
    now = timezone.now()
    ordered = list(events)
    for kind, untimed in ((ConnectionChanged, False), (MessageChanged, True)):
        slots = [
            i
            for i, (_, e) in enumerate(events)
            if isinstance(e, kind) and (untimed or e.occurred_at is not None)
        ]
        timed = sorted((events[i] for i in slots), key=lambda pair: pair[1].occurred_at or now)
        for slot, pair in zip(slots, timed, strict=True):
            ordered[slot] = pair
    return ordered
