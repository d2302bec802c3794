"""Webhook endpoints API: a tenant's URLs for our signed events; the secret is shown once."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.api import TenantScopedMixin
from whatsapp_saas.api.errors import ApiError
from whatsapp_saas.netguard import URLNotAllowed

from . import services
from .models import EVENT_TYPES, Delivery, Endpoint, all_event_types

READ, WRITE = "messages:read", "numbers:write"


class EndpointSerializer(serializers.ModelSerializer):
    """An endpoint as listed: never its secret."""

    url = serializers.CharField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        allow_empty=False,
        default=all_event_types,
    )

    class Meta:
        model = Endpoint
        fields = ["id", "url", "event_types", "is_active", "created_at"]
        read_only_fields = ["id", "created_at"]


class CreatedEndpointSerializer(EndpointSerializer):
    """The create response: the only time the signing secret is shown."""

    secret = serializers.CharField(read_only=True)

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    """A queued test delivery."""

    class Meta:
        model = Delivery
        fields = ["id", "event_type", "status", "attempts", "created_at"]
        read_only_fields = fields


class EndpointViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The tenant's webhook endpoints; POST registers one, POST …/test/ sends a ping."""

    queryset = Endpoint.objects.all()
    serializer_class = EndpointSerializer
    required_scopes = {"read": READ, "write": WRITE}

    @extend_schema(request=EndpointSerializer, responses={201: CreatedEndpointSerializer})
    def create(self, request: Request) -> Response:
        """Register an endpoint (201) with a generated secret, returned only here."""
        serializer = EndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint = services.register_endpoint(self.tenant, **serializer.validated_data)
        except URLNotAllowed as exc:
            raise ApiError(400, exc.code, str(exc), {"url": [str(exc)]}) from exc
        return Response(CreatedEndpointSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Endpoint) -> None:
        """Delete through the service."""
        services.delete_endpoint(instance)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: Any = None) -> Response:
        """Queue a `ping` event to this endpoint (202)."""
        delivery = services.ping(self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
