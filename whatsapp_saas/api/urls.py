"""The v1 API router; each app registers its viewsets here as it lands."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from instances.api.views import NumberViewSet, ProviderHealthView
from messaging.api.campaigns import CampaignViewSet
from messaging.api.views import ConversationViewSet, MessageViewSet
from notifications.api import EndpointViewSet
from tenants.api import ApiKeyViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# No `.json` suffix routes: not in the contract, and custom actions do not take `format`.
router.include_format_suffixes = False
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("numbers", NumberViewSet, basename="number")
router.register("messages", MessageViewSet, basename="message")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("webhook-endpoints", EndpointViewSet, basename="webhook-endpoint")

urlpatterns = [
    path("health/providers/", ProviderHealthView.as_view(), name="provider-health"),
    *router.urls,
]
