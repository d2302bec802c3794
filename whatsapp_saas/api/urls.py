"""The v1 API router; each app registers its viewsets here as it lands."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from instances.api.views import NumberViewSet, ProviderHealthView
from tenants.api import ApiKeyViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("numbers", NumberViewSet, basename="number")

urlpatterns = [
    path("health/providers/", ProviderHealthView.as_view(), name="provider-health"),
    *router.urls,
]
