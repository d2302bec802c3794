"""The writes of a send: an attempt committed in flight, then what the provider said, fenced.

Starting an attempt is fenced on the lane's lease (only the lane's holder decides to send). What
comes back is a fact about that attempt, so it is fenced on the attempt still being in flight: a
worker whose lane was taken over during a long call still records the provider's answer, which
spares the new holder from guessing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from instances import services as numbers
from providers.errors import ProviderError
from providers.registry import get_gateway_class
from whatsapp_saas.workqueue import Lease

from . import events, services
from .models import Message, SendAttempt, SendLane

logger = logging.getLogger(__name__)
Outcome = SendAttempt.Outcome


def start(lease: Lease[SendLane], message: Message, fingerprint: str) -> SendAttempt | None:
    """Commit an attempt in flight before the call; None if the message is no longer to send."""
    now = timezone.now()
    with lease.fenced():
        if not Message.objects.filter(
            pk=message.pk, status=Message.Status.QUEUED, in_flight_since__isnull=True
        ).update(in_flight_since=now, attempts=F("attempts") + 1, updated_at=now):
            return None
        return SendAttempt.objects.create(
            message=message, started_at=now, outcome=Outcome.IN_FLIGHT, fingerprint=fingerprint
        )


def close(attempt: SendAttempt, **fields: Any) -> bool:
    """Write the end of an attempt if it is still in flight (nobody resolved it meanwhile)."""
    return bool(
        SendAttempt.objects.filter(pk=attempt.pk, outcome=Outcome.IN_FLIGHT).update(
            finished_at=timezone.now(), **fields
        )
    )


def queued(message: Message) -> QuerySet[Message]:
    """The message row while it still waits to be sent."""
    return Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED)


def sent(message: Message, attempt: SendAttempt, provider_message_id: str, by: str) -> str:
    """Record `sent` with the provider's id, apply receipts that came first, reset the failures."""
    now = timezone.now()
    status = services.handover_status(get_gateway_class(message.number.provider).queues_sends)
    fields: dict[str, Any] = {
        "status": status,
        "provider_message_id": provider_message_id,
        "next_attempt_at": None,
        "in_flight_since": None,
        "updated_at": now,
    }
    if status == Message.Status.SENT:
        # A provider that queues sends (GreenAPI) reports `sent` when the message leaves.
        fields["sent_at"] = now
    with transaction.atomic():
        if not close(
            attempt, outcome=Outcome.SENT, provider_message_id=provider_message_id, resolved_by=by
        ):
            logger.warning("message %s: an answer came after its attempt was resolved", message.pk)
            return "skipped"
        if store_sent(message, fields):
            events.status_changed([message])
    message.provider_message_id = provider_message_id
    services.apply_pending_receipts(message)
    numbers.send_succeeded(message.number)
    return Outcome.SENT


def store_sent(message: Message, fields: dict[str, Any]) -> int:
    """Write the sent state; a row recorded from the provider's own echo of it gives way."""
    try:
        with transaction.atomic():
            return int(queued(message).update(**fields))
    except IntegrityError:
        # A webhook recorded this very message (as typed on the phone) before we stored the id.
        Message.objects.filter(
            number_id=message.number_id,
            attempts=0,
            provider_message_id=fields["provider_message_id"],
        ).exclude(pk=message.pk).delete()
        return int(queued(message).update(**fields))


def error_fields(exc: ProviderError, code: str) -> dict[str, Any]:
    """What an attempt keeps of the error that ended it."""
    return {
        "provider_status_code": exc.status,
        "error_code": code,
        "error_message": str(exc)[:2000],
    }


def failed(message: Message, attempt: SendAttempt, exc: ProviderError, code: str) -> str:
    """The provider refused for good: the message fails."""
    now = timezone.now()
    with transaction.atomic():
        if close(attempt, outcome=Outcome.FAILED, **error_fields(exc, code)) and queued(
            message
        ).update(
            status=Message.Status.FAILED,
            failed_at=now,
            next_attempt_at=None,
            in_flight_since=None,
            error_code=code,
            error_message=str(exc)[:2000],
            updated_at=now,
        ):
            events.status_changed([message])
    return Outcome.FAILED


def retry(
    message: Message,
    attempt: SendAttempt,
    exc: ProviderError,
    code: str,
    at: datetime,
    *,
    maybe_sent: bool,
) -> str:
    """Try again at `at`; an attempt that may have been performed stays in flight, to resolve."""
    with transaction.atomic():
        if maybe_sent:
            ended = SendAttempt.objects.filter(pk=attempt.pk, outcome=Outcome.IN_FLIGHT).update(
                finished_at=timezone.now(), **error_fields(exc, code)
            )
        else:
            ended = close(attempt, outcome=Outcome.RETRY, **error_fields(exc, code))
        if ended:
            kept = {} if maybe_sent else {"in_flight_since": None}
            queued(message).update(next_attempt_at=at, updated_at=timezone.now(), **kept)
    return Outcome.RETRY


def withdraw(message: Message, attempt: SendAttempt, at: datetime) -> None:
    """No request left this process (open circuit): not a try at all; due again at `at`."""
    with transaction.atomic():
        if SendAttempt.objects.filter(pk=attempt.pk, outcome=Outcome.IN_FLIGHT).delete()[0]:
            queued(message).update(
                in_flight_since=None, attempts=F("attempts") - 1, next_attempt_at=at
            )


def unconfirmed(message: Message, attempt: SendAttempt) -> None:
    """The grace period passed and the provider shows no such message: it may be sent again."""
    close(attempt, outcome=Outcome.UNCONFIRMED)
    queued(message).update(in_flight_since=None, updated_at=timezone.now())


def settle(message: Message) -> None:
    """Clear an in-flight mark no attempt backs (its attempt row is gone)."""
    queued(message).update(in_flight_since=None)
