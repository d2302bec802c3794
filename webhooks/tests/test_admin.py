"""Operators browse stored events read-only, with secrets masked, and can reprocess them."""

from __future__ import annotations

import pytest

from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(deliver, evolution_number, fixture_for) -> WebhookEvent:
    """A stored messages.upsert whose envelope carries the instance token (`apikey`)."""
    payload = fixture_for(evolution_number, "messages_upsert__text") | {"apikey": "INSTANCE-TOKEN"}
    deliver(evolution_number, payload)
    return WebhookEvent.objects.get()


def test_the_list_filters_by_provider_type_status_and_number(operator, event, evolution_number):
    url = "/admin/webhooks/webhookevent/"
    assert (
        "messages.upsert"
        in operator.get(
            f"{url}?provider__exact=evolution&status__exact=received"
            f"&number__id__exact={evolution_number.pk}"
        ).content.decode()
    )
    assert "messages.upsert" not in operator.get(f"{url}?status__exact=failed").content.decode()


def test_the_detail_pretty_prints_the_body_with_secrets_masked_and_nothing_editable(
    operator, event
):
    html = operator.get(f"/admin/webhooks/webhookevent/{event.pk}/change/").content.decode()
    # The token never reached the database: the body was stored without `apikey` (scrub.py).
    assert "&quot;apikey&quot;" not in html and "INSTANCE-TOKEN" not in html
    assert "&quot;conversation&quot;: &quot;Hi&quot;" in html
    assert 'name="_save"' not in html


def test_the_reprocess_action_queues_the_event_again(
    operator, event, django_capture_on_commit_callbacks
):
    WebhookEvent.objects.filter(pk=event.pk).update(status="failed", error="boom")
    with django_capture_on_commit_callbacks() as callbacks:
        response = operator.post(
            "/admin/webhooks/webhookevent/",
            {"action": "reprocess", "_selected_action": [event.pk]},
            follow=True,
        )
    assert "1 event(s) queued for processing." in response.content.decode()
    event.refresh_from_db()
    assert (event.status, event.error, len(callbacks)) == ("received", "", 1)
