"""Numbers API (API.md "Numbers"): thin views that authorize, validate and call the services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from instances import health, services
from instances.models import ConnectionEvent, Number
from providers.errors import ProviderError
from providers.registry import credential_fields
from tenants.api import TenantScopedMixin, tenant_of
from whatsapp_saas.api.errors import ApiError
from whatsapp_saas.api.pagination import NewestFirstCursorPagination

from .serializers import (
    ConnectionEventSerializer,
    ConnectResultSerializer,
    ConnectSerializer,
    NumberCreateSerializer,
    NumberSerializer,
    NumberStatusSerializer,
)

STATUS_CODES = {"conflict": 409, "quota_exceeded": 409, "provider_unavailable": 503}


@contextmanager
def service_errors() -> Iterator[None]:
    """Turn service and provider errors into API errors that say whether a retry can help."""
    try:
        yield
    except services.InvalidCredentials as exc:
        raise ApiError(
            400,
            "validation_error",
            "The request is invalid; see details.",
            {field: [str(exc)] for field in exc.fields},
        ) from exc
    except services.NumberError as exc:
        raise ApiError(STATUS_CODES.get(exc.code, 409), exc.code, str(exc)) from exc
    except ProviderError as exc:
        raise ApiError(
            503,
            "provider_unavailable",
            f"The provider failed: {exc.message}",
            {"retryable": exc.retryable, "retry_after": exc.retry_after},
        ) from exc


class NumberViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The tenant's numbers."""

    queryset = Number.objects.live()
    serializer_class = NumberSerializer
    http_method_names = ["get", "post", "patch", "delete"]
    filterset_fields = ["status", "provider"]
    required_scopes = {
        "read": "numbers:read",
        "write": "numbers:write",
        "status": "numbers:read",
        "events": "numbers:read",
    }

    def get_base_queryset(self) -> QuerySet[Number]:
        """Live numbers only; a number being deleted is already gone for the tenant."""
        if self.action == "list":
            # Only what a list shows: secrets cost a decryption each, a QR code kilobytes, and
            # every other column a conversion per row (200 rows a page).
            return Number.objects.live().only(*NumberSerializer.Meta.fields)
        return Number.objects.live()

    @extend_schema(request=NumberCreateSerializer, responses={201: NumberSerializer})
    def create(self, request: Request) -> Response:
        """Create a number and its provider instance (quota checked)."""
        body = NumberCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        with service_errors():
            number = services.create_number(
                self.tenant,
                name=data["name"],
                provider=data["provider"],
                purpose=data["purpose"],
                phone_number=data["phone_number"],
                **{f.name: data[f.name] for f in credential_fields(data["provider"])},
            )
        return Response(NumberSerializer(number).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: BaseSerializer[Number]) -> None:
        """PATCH name, purpose, send_rate_per_minute."""
        # UpdateModelMixin.update always builds the serializer on self.get_object().
        number = cast(Number, serializer.instance)
        services.update_number(number, **serializer.validated_data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        """Remove at the provider, in our database and cache (finished later if it is down)."""
        services.delete_number(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ConnectSerializer, responses={200: ConnectResultSerializer})
    @action(detail=True, methods=["post"])
    def connect(self, request: Request, pk: str | None = None) -> Response:
        """Start linking by QR or pairing code; 409 when already connected."""
        body = ConnectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors():
            number = services.connect(self.get_object(), **body.validated_data)
        expires = (
            number.pairing_code_expires_at
            if body.validated_data["method"] == "pairing_code"
            else number.qr_expires_at
        )
        return Response(
            {
                "status": number.status,
                "qr_code": number.qr_code or None,
                "pairing_code": number.pairing_code or None,
                "expires_at": expires,
            }
        )

    @extend_schema(responses={200: NumberStatusSerializer})
    @action(detail=True, methods=["get"])
    def status(self, request: Request, pk: str | None = None) -> Response:
        """The number's status from our database (never a provider call)."""
        return Response(NumberStatusSerializer(self.get_object()).data)

    @extend_schema(request=None, responses={200: NumberSerializer})
    @action(detail=True, methods=["post"])
    def disconnect(self, request: Request, pk: str | None = None) -> Response:
        """Log out at the provider."""
        with service_errors():
            number = services.disconnect(self.get_object())
        return Response(NumberSerializer(number).data)

    @extend_schema(request=None, responses={200: NumberSerializer})
    @action(detail=True, methods=["post"])
    def reconnect(self, request: Request, pk: str | None = None) -> Response:
        """Restart at the provider, then connect again if needed."""
        with service_errors():
            number = services.reconnect(self.get_object())
        return Response(NumberSerializer(number).data)

    @extend_schema(responses={200: ConnectionEventSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        """The number's connection history, newest first."""
        paginator = EventCursorPagination()
        history = ConnectionEvent.objects.filter(number=self.get_object())
        page = paginator.paginate_queryset(history, request, view=self)
        return paginator.get_paginated_response(ConnectionEventSerializer(page, many=True).data)


class EventCursorPagination(NewestFirstCursorPagination):
    """Connection events page by their time (they have no created_at)."""

    ordering = ("-at", "-id")


class ProviderHealthView(APIView):
    """GET /health/providers/: the last provider probes and this tenant's counts by status."""

    required_scopes = {"read": "numbers:read"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        """Read what the periodic health check stored; never probes on request."""
        return Response(health.report(tenant=tenant_of(request)))
