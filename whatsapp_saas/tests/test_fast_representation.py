"""The list serializers' fast rendering gives exactly what DRF's own rendering gives."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers

from instances.api.serializers import ConnectionEventSerializer, NumberSerializer
from instances.models import ConnectionEvent, Number
from messaging.api.serializers import ConversationSerializer, MessageSerializer, for_listing
from messaging.models import Contact, Conversation, MediaFile, Message
from whatsapp_saas.api.fast import FastRepresentation

pytestmark = pytest.mark.django_db


def drf(serializer_class: type[serializers.Serializer], instance: Any) -> Any:
    """What DRF's Serializer.to_representation answers for `instance`."""
    serializer = serializer_class(instance)
    assert isinstance(serializer, FastRepresentation)
    return serializers.Serializer.to_representation(serializer, instance)


def rows(evolution_number: Number) -> dict[type[serializers.Serializer], list[Any]]:
    """Rows with empty and set dates, errors, media, a deleted message, ids and choices."""
    tenant, now = evolution_number.tenant, timezone.now()
    Number.objects.filter(pk=evolution_number.pk).update(
        connected_at=now - timedelta(hours=1), qr_updated_at=None
    )
    contact = Contact.objects.create(tenant=tenant, phone="5521988887777", lid="123@lid")
    chat = Conversation.objects.create(
        tenant=tenant, number=evolution_number, contact=contact, last_message_at=now
    )
    common = {"tenant": tenant, "number": evolution_number, "conversation": chat}
    sent = Message.objects.create(
        **common, direction="outbound", recipient="5521988887777", text="hi", sent_at=now
    )
    failed = Message.objects.create(
        **common,
        direction="outbound",
        type="image",
        media_url="https://example.com/a.png",
        caption="see",
        status="failed",
        error_code="invalid_request",
        error_message="No.",
        reply_to=sent,
    )
    inbound = Message.objects.create(
        **common, direction="inbound", type="image", sender="5521988887777", status="received"
    )
    MediaFile.objects.create(
        message=inbound,
        tenant=tenant,
        status="stored",
        mime_type="image/png",
        size=10,
        file_name="a.png",
    )
    deleted = Message.objects.create(
        **common, direction="inbound", sender="5521988887777", text="gone", deleted_at=now
    )
    event = ConnectionEvent.objects.create(
        number=evolution_number, from_status="connected", to_status="connecting", source="webhook"
    )
    messages = Message.objects.select_related("media_file").order_by("created_at")
    assert {m.pk for m in messages} == {sent.pk, failed.pk, inbound.pk, deleted.pk}
    return {
        NumberSerializer: list(Number.objects.all()),
        MessageSerializer: list(messages),
        ConversationSerializer: list(Conversation.objects.select_related("contact")),
        ConnectionEventSerializer: [event],
    }


@pytest.mark.parametrize("zone", ["UTC", "America/Sao_Paulo"])
def test_every_list_row_renders_as_drf_renders_it(evolution_number: Number, zone: str) -> None:
    seeded = rows(evolution_number)
    with timezone.override(zone):
        for serializer_class, instances in seeded.items():
            expected = [drf(serializer_class, row) for row in instances]
            assert serializer_class(instances, many=True).data == expected, serializer_class
            assert list(expected[0]) == list(serializer_class(instances[0]).data)


def test_dates_keep_drf_s_format_with_z_for_utc(evolution_number: Number) -> None:
    row = NumberSerializer(Number.objects.get(pk=evolution_number.pk)).data
    assert row["created_at"].endswith("Z") and row["qr_updated_at"] is None


def test_lists_read_only_the_columns_they_show_and_render_the_same_without_a_query(
    evolution_number: Number, django_assert_num_queries: Any
) -> None:
    seeded = rows(evolution_number)
    listed = {
        MessageSerializer: list(for_listing(Message.objects.order_by("created_at"))),
        NumberSerializer: list(Number.objects.only(*NumberSerializer.Meta.fields)),
    }
    for serializer_class, instances in listed.items():
        expected = [drf(serializer_class, row) for row in seeded[serializer_class]]
        with django_assert_num_queries(0):
            assert serializer_class(instances, many=True).data == expected
