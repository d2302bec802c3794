"""The v1 API router; each app registers its viewsets here as it lands."""

from rest_framework.routers import DefaultRouter

from tenants.api import ApiKeyViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("api-keys", ApiKeyViewSet, basename="api-key")

urlpatterns = router.urls
