"""Fixtures for messaging tests: a number made in the database and outbound messages on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from instances.models import Number
from messaging.models import Contact, Conversation, Message


@pytest.fixture
def number(evolution_number: Number) -> Number:
    """The number these tests use: a connected Evolution number made in the database."""
    return evolution_number


@pytest.fixture
def outbound(number: Number) -> Callable[..., Message]:
    """Create an outbound message to +55 11 88888-8888, as the send pipeline would."""

    def make(provider_message_id: str = "3EB08EE80DB4E276AFE85B", **fields: Any) -> Message:
        contact, _ = Contact.objects.get_or_create(tenant=number.tenant, phone="5511888888888")
        conversation, _ = Conversation.objects.get_or_create(
            number=number, contact=contact, defaults={"tenant": number.tenant}
        )
        defaults = {
            "direction": "outbound",
            "status": "queued",
            "recipient": "5511888888888",
            "text": "Hello",
        }
        return Message.objects.create(
            tenant=number.tenant,
            number=number,
            conversation=conversation,
            provider_message_id=provider_message_id,
            **{**defaults, **fields},
        )

    return make


# The send-pipeline fixtures (numbers linked at the sandbox, a queue helper) live in fixtures.py.
from .fixtures import linked, linked_green, queue  # noqa: E402,F401
