"""Messages API (API.md "Messages"): thin views that validate, authorize and call the outbox."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import django_filters
from django.db.models import QuerySet
from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from instances.models import Number
from messaging import media, outbox
from messaging.models import Conversation, MediaFile, Message
from tenants.api import TenantScopedMixin
from tenants.models import Tenant
from whatsapp_saas.api.errors import ApiError

from .serializers import (
    ConversationSerializer,
    MessageSerializer,
    SendSerializer,
    fingerprint,
    for_listing,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"


class AnyAccept(DefaultContentNegotiation):
    """A file route answers whatever the client accepts; its errors are JSON all the same."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        """The first renderer (JSON), never a 406."""
        return renderers[0], renderers[0].media_type


READ, SEND = "messages:read", "messages:send"


class MessageFilter(django_filters.FilterSet):
    """?number=&status=&direction=&conversation=&to="""

    number = django_filters.UUIDFilter(field_name="number_id")
    conversation = django_filters.UUIDFilter(field_name="conversation_id")
    to = django_filters.CharFilter(field_name="recipient")

    class Meta:
        model = Message
        fields = ["number", "status", "direction", "conversation", "to"]


class MessageViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The tenant's messages; POST queues one for sending."""

    queryset = Message.objects.select_related("media_file")
    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    http_method_names = ["get", "post"]
    required_scopes = {"read": READ, "write": SEND}

    def get_base_queryset(self) -> QuerySet[Message]:
        """A list reads only the columns it shows."""
        if self.action == "list":
            return for_listing(Message.objects.all())
        return super().get_base_queryset()

    @extend_schema(
        request=SendSerializer,
        responses={202: MessageSerializer, 200: MessageSerializer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    def create(self, request: Request) -> Response:
        """Queue a message (202); a replay of an earlier request answers its message (200)."""
        body = SendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        key = idempotency_key(request, data["client_message_id"])
        number = self.number_for(data["number"])
        digest = fingerprint(data)
        try:
            first = outbox.replay(self.tenant.pk, key, digest) if key else None
            if first is not None:
                return Response(
                    MessageSerializer(first).data, headers={"Idempotent-Replayed": "true"}
                )
            message = outbox.queue_message(
                number,
                to=data["to"],
                type=data["type"],
                text=data["text"],
                media_url=data["media_url"],
                caption=data["caption"],
                file_name=data["filename"],
                client_message_id=key,
                fingerprint=digest,
            )
        except outbox.IdempotencyConflict as exc:
            raise ApiError(
                409, "idempotency_conflict", str(exc), {"message_id": str(exc.existing.pk)}
            ) from exc
        except outbox.QueueRefused as exc:
            raise ApiError(
                409,
                "number_unavailable",
                str(exc),
                {"number": str(number.pk), "status": exc.status},
            ) from exc
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={(200, "application/octet-stream"): bytes},
        description="The stored file of an inbound media message, with its Content-Type.",
    )
    @action(detail=True, methods=["get"], content_negotiation_class=AnyAccept)
    def media(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        """The file's bytes; 409 `media_not_ready` while it is being fetched."""
        message = self.get_object()
        found = None if message.deleted_at else media.of(message)
        if found is None:
            raise ApiError(404, "not_found", "This message has no media file.")
        if found.status == MediaFile.Status.PENDING:
            raise ApiError(
                409,
                "media_not_ready",
                "The file is still being fetched from the provider; try again shortly.",
                {"status": found.status},
            )
        if found.status != MediaFile.Status.STORED:
            raise ApiError(
                404,
                "media_unavailable",
                "The file could not be stored or is no longer kept.",
                {"status": found.status},
            )
        return media.response(found)

    def number_for(self, number_id: UUID) -> Number:
        """The caller's number (one being deleted too: queueing then says so); else a 400."""
        return number_of(self.tenant, number_id)


def number_of(tenant: Tenant, number_id: UUID) -> Number:
    """A number of this tenant named in a request body; else a 400 naming the `number` field."""
    number = Number.objects.filter(tenant=tenant, pk=number_id).first()
    if number is None:
        raise ApiError(
            400,
            "validation_error",
            "The request is invalid; see details.",
            {"number": ["No such number in this workspace."]},
        )
    return number


def idempotency_key(request: Request, client_message_id: str) -> str:
    """The Idempotency-Key header or `client_message_id`; both given, they must agree."""
    header = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(header) > 128:
        raise ApiError(
            400,
            "validation_error",
            "The request is invalid; see details.",
            {IDEMPOTENCY_HEADER: ["At most 128 characters."]},
        )
    if header and client_message_id and header != client_message_id:
        raise ApiError(
            400,
            "validation_error",
            "The request is invalid; see details.",
            {"client_message_id": [f"Must match the {IDEMPOTENCY_HEADER} header."]},
        )
    return header or client_message_id


class ConversationViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The tenant's conversations, and the messages of one."""

    queryset = Conversation.objects.select_related("contact")
    serializer_class = ConversationSerializer
    filterset_fields = ["number"]
    required_scopes = {"read": READ}

    @extend_schema(responses={200: MessageSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"])
    def messages(self, request: Request, pk: str | None = None) -> Response:
        """The conversation's messages, newest first."""
        page = self.paginate_queryset(self.messages_of(self.get_object()))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    def messages_of(self, conversation: Conversation) -> QuerySet[Message]:
        """Messages of one of the caller's conversations."""
        return for_listing(Message.objects.filter(tenant=self.tenant, conversation=conversation))
