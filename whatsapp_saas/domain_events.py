"""Domain events: services say what changed; subscribers (notifications) hear it after commit.

Services call `emit` inside their transaction. Subscribers run once it commits (at once when no
transaction is open), so nothing is announced that a rollback undid, and a failing subscriber
never fails the change that was announced. Nothing here knows who listens (DESIGN.md section 2).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

MESSAGE_STATUS = "message.status"
MESSAGE_RECEIVED = "message.received"
MESSAGE_UPDATED = "message.updated"
NUMBER_STATUS = "number.status"
TYPES = (MESSAGE_STATUS, MESSAGE_RECEIVED, MESSAGE_UPDATED, NUMBER_STATUS)

# Sent with `events`: a sequence of DomainEvent, all from one commit.
occurred = Signal()


@dataclass(frozen=True)
class DomainEvent:
    """One change for one tenant: its type and the changed object as written, or its id."""

    type: str
    tenant_id: Any
    subject: Any


def emit(*events: DomainEvent) -> None:
    """Announce these events to every subscriber once the current transaction commits."""
    if events:
        transaction.on_commit(partial(announce, events))


def announce(events: Sequence[DomainEvent]) -> None:
    """Run the subscribers now; one that fails is logged and the others still run."""
    for receiver, result in occurred.send_robust(sender=DomainEvent, events=events):
        if isinstance(result, Exception):
            logger.error(
                "domain event subscriber %s failed",
                getattr(receiver, "__qualname__", receiver),
                exc_info=result,
            )
