"""Fixtures and helpers for send-pipeline tests: numbers linked at the sandbox, a worker loop.

Test modules import the fixtures they use from here (pytest finds fixtures in a module's names).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from instances import services
from instances.models import Number
from messaging import lanes, outbox
from messaging.models import Message, SendLane
from tenants.models import Tenant

FAST = 2400  # sends per minute: pacing out of the way where a test is not about it


def link(number: Number, sandbox: Any, key: str) -> Number:
    """Connect a number at the sandbox by a simulated scan."""
    services.connect(number)
    sandbox.scan(number.provider, key, phone="5511988887777")
    number = services.check_state(number)
    assert number.status == "connected"
    Number.objects.filter(pk=number.pk).update(send_rate_per_minute=FAST)
    number.send_rate_per_minute = FAST
    return number


@pytest.fixture
def linked(sandbox: Any, tenant: Tenant) -> Number:
    """A connected Evolution number provisioned at the sandbox (receipts switched off)."""
    sandbox.settings(auto_receipts=False)
    number = services.create_number(tenant, name="Support", provider="evolution")
    return link(number, sandbox, number.instance_name)


@pytest.fixture
def linked_green(sandbox: Any, tenant: Tenant) -> Number:
    """A connected GreenAPI number at the sandbox."""
    sandbox.settings(auto_receipts=False)
    created = sandbox.create_greenapi_instance()
    number = services.create_number(
        tenant,
        name="Sales",
        provider="greenapi",
        greenapi_id_instance=str(created["idInstance"]),
        greenapi_api_token=created["apiTokenInstance"],
    )
    return link(number, sandbox, str(created["idInstance"]))


@pytest.fixture
def queue(linked: Number) -> Callable[..., Message]:
    """Queue a text on the linked number; each call writes to another contact unless `to` is given.

    Separate contacts, because one chat's messages leave strictly in order (outbox.heads).
    """
    counter = iter(range(10_000))

    def make(text: str = "Hello", number: Number | None = None, **kwargs: Any) -> Message:
        to = kwargs.pop("to", None) or f"551188888{next(counter):04d}"
        return outbox.queue_message(
            number or linked, to=to, type=kwargs.pop("type", "text"), text=text, **kwargs
        )

    return make


def sent_at_provider(sandbox: Any) -> list[dict[str, Any]]:
    """Every message the sandbox was asked to send."""
    return [m for m in sandbox.control("GET", "/messages") if m["direction"] == "outbound"]


def make_due(message: Message) -> None:
    """Let time pass: the message's next try, and its lane, are due now."""
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(next_attempt_at=now)
    lane = SendLane.objects.filter(number_id=message.number_id)
    lane.filter(due_at__gt=now).update(due_at=now)
    lane.update(not_before=None)


def send(message: Message) -> str:
    """Run the message's lane once (as a wake-up would): its outcome, else why the lane stopped."""
    run = lanes.run(message.number_id)
    return run.outcomes.get(str(message.pk), run.stopped)


def run_until_settled(message: Message, tries: int = 20) -> Message:
    """What workers and the clock do together: run the lane, let its wait pass, repeat."""
    for _ in range(tries):
        send(message)
        message.refresh_from_db()
        if message.status != Message.Status.QUEUED:
            return message
        make_due(message)
    return message


class Crash(BaseException):
    """A worker dying mid-call: nothing after it runs (not an Exception, so nothing catches it)."""
