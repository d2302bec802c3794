"""The base every tenant-facing API view builds on: querysets scoped to the key's tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework import serializers, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from .models import ApiKey, Tenant


def tenant_of(request: Request) -> Tenant:
    """The tenant of the request's API key (the view must use ApiKeyAuthentication)."""
    key = request.auth
    if not isinstance(key, ApiKey):
        raise ImproperlyConfigured("tenant-scoped API views need ApiKeyAuthentication")
    return key.tenant


# The mixin is typed as the view it is mixed into (its request, queryset); at run time it is plain.
if TYPE_CHECKING:
    _ScopedBase = GenericAPIView
else:
    _ScopedBase = object


class TenantScopedMixin(_ScopedBase):
    """Scope `get_queryset()` to the API key's tenant, so no endpoint can forget it.

    Subclasses set `queryset` (or override `get_base_queryset`) and `tenant_field`
    (the lookup from the model to its tenant, default "tenant").
    """

    tenant_field = "tenant"
    queryset: QuerySet[Any] | None = None

    @property
    def tenant(self) -> Tenant:
        """The tenant of the authenticated API key."""
        return tenant_of(self.request)

    def get_base_queryset(self) -> QuerySet[Any]:
        """The unscoped queryset; never returned as is."""
        if self.queryset is None:
            raise ImproperlyConfigured(f"{type(self).__name__} sets no queryset")
        return self.queryset.all()

    def get_queryset(self) -> QuerySet[Any]:
        """Only this tenant's objects; another tenant's ids therefore answer 404."""
        return self.get_base_queryset().filter(**{self.tenant_field: self.tenant})


class ApiKeySerializer(serializers.ModelSerializer):
    """An API key as its tenant may see it: never the secret or its hash."""

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiKeyViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The keys of the caller's tenant (any valid key may list them; no scope needed)."""

    queryset = ApiKey.objects.all()
    serializer_class = ApiKeySerializer
    required_scopes: dict[str, str] = {}
