"""Project URLs: admin, portal pages, the public API, provider webhooks, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health

admin.site.site_header = "WhatsApp Numbers — operations"
admin.site.site_title = "WhatsApp Numbers admin"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("whatsapp_saas.api.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("", include("tenants.urls")),
    path("", include("instances.urls")),
    path("", include("messaging.urls")),
]

handler403 = "whatsapp_saas.pages.permission_denied"
handler404 = "whatsapp_saas.pages.page_not_found"
