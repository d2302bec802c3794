"""GreenAPI's own queue: an accepted send stays queued with its id until GreenAPI says `sent`."""

from __future__ import annotations

from typing import Any

import pytest

from messaging.services import handover_status
from providers.registry import get_gateway_class
from webhooks import tasks
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def apply(deliver: Any, fixture_for: Any) -> Any:
    """Deliver fixtures to a number and process each at once."""

    def run(number: Any, *names: str) -> None:
        for name in names:
            assert deliver(number, fixture_for(number, name)).status_code == 200
            tasks.process_webhook_event(WebhookEvent.objects.latest("id").pk)

    return run


def test_a_send_greenapi_accepted_stays_queued_and_evolution_ones_are_sent() -> None:
    assert handover_status(get_gateway_class("greenapi").queues_sends) == "queued"
    assert handover_status(get_gateway_class("evolution").queues_sends) == "sent"


def test_a_yellow_card_keeps_it_queued_with_the_cause_until_greenapi_sends_it(
    apply: Any, greenapi_number: Any, our_message: Any
) -> None:
    our_message.number, our_message.status = greenapi_number, "queued"
    our_message.provider_message_id = "BAE5F4886E5E7D3B"
    our_message.save()
    apply(greenapi_number, "outgoingMessageStatus__yellow_card")
    our_message.refresh_from_db()
    assert (our_message.status, our_message.error_code) == ("queued", "spam_suspected")
    assert our_message.error_message
    apply(greenapi_number, "outgoingMessageStatus__sent")
    our_message.refresh_from_db()
    assert (our_message.status, our_message.error_code) == ("sent", "")
    assert our_message.sent_at is not None


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("outgoingMessageStatus__no_account", "not_on_whatsapp"),
        ("outgoingMessageStatus__not_in_group", "not_in_group"),
    ],
)
def test_no_account_and_not_in_group_fail_with_their_reasons(
    apply: Any, greenapi_number: Any, our_message: Any, fixture: Any, reason: Any
) -> None:
    our_message.number, our_message.status = greenapi_number, "queued"
    our_message.provider_message_id = "BAE5F4886E5E7D3B"
    our_message.save()
    apply(greenapi_number, fixture)
    our_message.refresh_from_db()
    assert (our_message.status, our_message.error_code) == ("failed", reason)
